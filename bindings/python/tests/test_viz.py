"""swiftcnn.viz: pictures of what a CNN learns, checked pixel by pixel.

The PNG files are decoded by a small reader written here (chunk CRCs checked with
zlib.crc32, the image data inflated by the zlib module, which also checks the Adler-32, and
all five PNG row filters undone), so the encoder is checked against an independent decoder.
Expected pixels are computed here from the documented rules (layout, min-max scaling with
halves rounded away from zero in float32, colours), not read back from the library.
"""
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models, nn, viz

MARGIN, TITLE_TOP = 4, 15          # the documented layout: margin 4, content at 4 + 7 + 4
WHITE = (255, 255, 255)


# ---- an independent PNG / PPM reader ------------------------------------------------------

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(ctype + body) & 0xFFFFFFFF == crc, ctype
        chunks.append((ctype, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, ctype, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))  # checks Adler-32
    stride = w * 3
    assert len(raw) == h * (stride + 1)
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        for i in range(stride):
            a = cur[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if ftype == 0:
                p = 0
            elif ftype == 1:
                p = a
            elif ftype == 2:
                p = b
            elif ftype == 3:
                p = (a + b) // 2
            else:
                assert ftype == 4
                q = a + b - c
                pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 0xFF
        out[y] = cur
        prev = cur
    return out.astype(np.uint8).reshape(h, w, 3)


def read_ppm(path):
    data = open(path, "rb").read()
    magic, dims, maxval, body = data.split(b"\n", 3)
    assert magic == b"P6" and maxval == b"255"
    w, h = map(int, dims.split())
    return np.frombuffer(body, np.uint8).reshape(h, w, 3)


def scaled(values):
    """The documented min-max scaling, in float32, halves away from zero."""
    v = np.asarray(values, dtype=np.float32)
    lo, hi = v.min(), v.max()
    if lo == hi:
        return np.full(v.shape, 128, np.uint8)
    s = (v - lo) / (hi - lo) * np.float32(255)
    return np.floor(s.astype(np.float32) + np.float32(0.5)).astype(np.uint8)


def tile(pic, row, col, th, tw, scale, top=TITLE_TOP):
    """The pixels of grid tile (row, col), tiles th x tw before enlarging, reduced back by
    checking every enlarged block is uniform."""
    y0 = top + row * (th * scale + 1)
    x0 = MARGIN + col * (tw * scale + 1)
    block = pic[y0:y0 + th * scale, x0:x0 + tw * scale].astype(np.int64)
    small = block[::scale, ::scale]
    assert np.array_equal(np.repeat(np.repeat(small, scale, 0), scale, 1), block)
    return small.astype(np.uint8)


# ---- PNG / PPM ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "flat", "stripes"])
def test_png_round_trip(tmp_path, rng, kind):
    h, w = 37, 53
    if kind == "random":
        pic = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "flat":
        pic = np.full((h, w, 3), (12, 200, 99), np.uint8)
    else:   # long repeats and short ones: LZ77 matches of every length class
        pic = (np.arange(w * 3)[None, :] // np.arange(1, h + 1)[:, None] % 7 * 37).astype(np.uint8).reshape(h, w, 3)
    path = tmp_path / "p.png"
    viz.save(path, pic)
    assert np.array_equal(read_png(path), pic)
    if kind == "flat":
        assert os.path.getsize(path) < 200        # compressed: raw is 5,883 bytes
    viz.save(tmp_path / "p.ppm", pic)
    assert np.array_equal(read_ppm(tmp_path / "p.ppm"), pic)


def test_png_large_picture_round_trip(tmp_path, rng):
    # larger than the 32 KiB LZ77 window, with repeats far apart
    base = rng.integers(0, 256, (64, 200, 3), dtype=np.uint8)
    pic = np.concatenate([base, base[::-1], base], axis=0)
    viz.save(tmp_path / "big.png", pic)
    assert np.array_equal(read_png(tmp_path / "big.png"), pic)


def test_save_formats_and_errors(tmp_path):
    pic = np.zeros((2, 3, 3), np.uint8)
    viz.save(tmp_path / "a.data", pic, format="ppm")
    assert np.array_equal(read_ppm(tmp_path / "a.data"), pic)
    viz.save(os.fsencode(str(tmp_path / "B.PNG")), pic)
    assert np.array_equal(read_png(tmp_path / "B.PNG"), pic)
    with pytest.raises(ValueError, match=r"\.png or \.ppm"):
        viz.save(tmp_path / "a.jpg", pic)
    with pytest.raises(ValueError, match="format"):
        viz.save(tmp_path / "a.png", pic, format="gif")
    with pytest.raises(OSError):
        viz.save(tmp_path / "missing" / "a.png", pic)
    assert sorted(os.listdir(tmp_path)) == ["B.PNG", "a.data"]   # no temporary files left


def test_to_picture_scales_tensors():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4) - 3
    pic = viz.to_picture(x)
    assert pic.shape == (3, 4, 3) and pic.dtype == np.uint8
    assert np.array_equal(pic[:, :, 0], scaled(x[0])) and np.array_equal(pic[:, :, 2], pic[:, :, 0])
    rgb = np.stack([np.full((2, 2), 0.0), np.full((2, 2), 1.0), np.full((2, 2), 0.5)]).astype(np.float32)
    assert viz.to_picture(rgb)[0, 0].tolist() == [0, 255, 128]
    grey = np.array([[1, 2], [3, 4]], np.uint8)
    assert viz.to_picture(grey)[1, 0].tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        viz.to_picture(np.zeros((2, 2, 2, 2), np.float32))


# ---- filters -----------------------------------------------------------------------------

def lenet_with(**params):
    m = models.lenet5()
    sd = m.state_dict()
    for k, v in params.items():
        sd[k.replace("__", ".")] = np.asarray(v, np.float32).reshape(sd[k.replace("__", ".")].shape)
    m.load_state_dict(sd)
    return m


def test_filter_grid_of_known_kernels():
    w = np.zeros((6, 1, 5, 5), np.float32)
    for f in range(6):
        w[f, 0] = np.arange(25, dtype=np.float32).reshape(5, 5) * (f + 1) - 7 * f
    w[1, 0] = -w[1, 0]                       # flipped: the largest value now top-left
    w[5, 0] = 0.25                           # constant: mid grey
    m = lenet_with(features__0__weight=w)
    pic = viz.filters(m, "features.0.weight")
    assert np.array_equal(pic, viz.filters(m, "features.0"))   # the layer's name works too
    scale = 40 // 5
    # 3 columns x 2 rows of 40x40 tiles; the title "features.0.weight: 6 filters 5x5" is 191 px
    assert pic.shape == (TITLE_TOP + 2 * 41 - 1 + MARGIN, 191 + 2 * MARGIN, 3)
    for f in range(6):
        t = tile(pic, f // 3, f % 3, 5, 5, scale)
        want = scaled(w[f, 0])
        assert np.array_equal(t[:, :, 0], want), f
        assert np.array_equal(t[:, :, 1], want) and np.array_equal(t[:, :, 2], want)
    assert tile(pic, 0, 0, 5, 5, scale)[0, 0, 0] == 0 and tile(pic, 0, 0, 5, 5, scale)[4, 4, 0] == 255
    assert tile(pic, 0, 1, 5, 5, scale)[0, 0, 0] == 255
    assert (tile(pic, 1, 2, 5, 5, scale) == 128).all()
    # gaps and margins are white, the title is black ink in its band
    assert (pic[TITLE_TOP:TITLE_TOP + 40, MARGIN + 40] == 255).all()
    assert (pic[:MARGIN] == 255).all()
    title = pic[MARGIN:MARGIN + 7, MARGIN:MARGIN + 191]
    assert (title == 0).any() and set(np.unique(title)) <= {0, 255}


def test_filter_grid_deeper_layer_grey_per_channel(rng):
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    m = lenet_with(features__3__weight=w)
    pic = viz.filters(m, "features.3.weight", scale=2)
    for f in (0, 7, 15):
        want = scaled(w[f])                    # scaled over the whole filter
        for c in (0, 3, 5):
            t = tile(pic, f, c, 5, 5, 2)
            assert np.array_equal(t[:, :, 1], want[c]), (f, c)


def test_filter_grid_rgb_first_layer(rng):
    m = models.lenet5(in_channels=3) if "in_channels" in models.lenet5.__code__.co_varnames else \
        models.create("lenet5", in_channels=3)
    sd = m.state_dict()
    w = rng.standard_normal((6, 3, 5, 5)).astype(np.float32)
    sd["features.0.weight"] = w
    m.load_state_dict(sd)
    pic = viz.filters(m, "features.0", scale=3)
    for f in range(6):
        want = scaled(w[f])                    # [3, 5, 5], one scale for R, G and B
        t = tile(pic, f // 3, f % 3, 5, 5, 3)
        assert np.array_equal(t, np.moveaxis(want, 0, -1)), f


def test_filter_errors():
    m = models.lenet5()
    with pytest.raises(ValueError, match="no parameter"):
        viz.filters(m, "features.9")
    with pytest.raises(ValueError, match="not a conv weight"):
        viz.filters(m, "classifier.0.weight")
    with pytest.raises(ValueError, match="scale"):
        viz.filters(m, "features.0", scale=0)
    with pytest.raises(TypeError):
        viz.filters(m, 3)


# ---- activations -------------------------------------------------------------------------

def test_activation_maps_of_a_gradient_image():
    w = np.zeros((6, 1, 5, 5), np.float32)
    w[0, 0, 2, 2] = 1.0                       # identity: the centre tap
    w[1, 0, 2, 2] = -1.0                      # the negative image
    w[2, 0, 0, 0] = 1.0                       # shifted: top-left tap
    # filters 3-5 all zero: constant maps (bias 0)
    m = lenet_with(features__0__weight=w, features__0__bias=np.zeros(6))
    x = (np.arange(32)[:, None] * 32 + np.arange(32)[None, :]).astype(np.float32)[None, None] / 100
    pic = viz.activations(m, x, "features.0")
    scale = 64 // 28
    crop = x[0, 0, 2:30, 2:30]
    expect = [scaled(crop), scaled(-crop), scaled(x[0, 0, 0:28, 0:28])]
    for c in range(6):
        t = tile(pic, c // 3, c % 3, 28, 28, scale)[:, :, 0]
        if c < 3:
            assert np.array_equal(t, expect[c]), c
        else:
            assert (t == 128).all(), c
    assert tile(pic, 0, 0, 28, 28, scale)[0, 0, 0] == 0 and tile(pic, 0, 0, 28, 28, scale)[27, 27, 0] == 255
    assert tile(pic, 0, 1, 28, 28, scale)[0, 0, 0] == 255
    # [C, H, W] is one image too; a batch is refused; a vector output is refused
    assert np.array_equal(viz.activations(m, x[0], "features.0"), pic)
    with pytest.raises(ValueError, match="one image"):
        viz.activations(m, np.zeros((2, 1, 32, 32), np.float32), "features.0")
    with pytest.raises(ValueError, match="not feature maps"):
        viz.activations(m, x, "classifier.0")
    with pytest.raises(ValueError, match="no node"):
        viz.activations(m, x, "features.42")


def test_activation_maps_match_forward(rng):
    m = models.lenet5()
    x = rng.standard_normal((1, 1, 32, 32)).astype(np.float32)
    y = np.asarray(m.forward(x, outputs=["features.3"])["features.3"])
    pic = viz.activations(m, x, "features.3", scale=3)       # 16 maps 10x10: a 4x4 grid
    for c in (0, 5, 15):
        assert np.array_equal(tile(pic, c // 4, c % 4, 10, 10, 3)[:, :, 0], scaled(y[0, c])), c


# ---- receptive field ---------------------------------------------------------------------

def small_stack():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(2, 2, 3, padding=2, dilation=2))
    return models.Model.from_json(nn.sequential_json(net, input_shape=(1, 16, 16), name="stack"))


def test_receptive_field_rectangles_with_padding_and_dilation():
    m = small_stack()
    names = m.node_names()
    last = names[-1]
    pic = viz.receptive_field(m, last, 1, 2)
    s, t = 256 // 16, 16 // 4                 # scale 16, outlines 4 px wide
    red, green, blue = viz.PALETTE[0], viz.PALETTE[1], viz.PALETTE[2]

    def at(y, x):
        return tuple(pic[TITLE_TOP + y, MARGIN + x])

    # Worked by hand. Fields (size, jump, start): conv 3x3 p1 (3, 1, -1); pool 2 (4, 2, -1);
    # conv 3x3 d2 p2 (12, 2, -5). Unit (1, 2) of the last conv sees rows -3..8, columns
    # -1..10 (clipped: 0..8, 0..10). It reads pool rows -1..3 (clipped 0..3, centre 1) and
    # columns 0..4 (centre 2): pool unit (1, 2) sees rows 1..4, columns 3..6. Those pool
    # units read conv rows 0..7 (centre 3) and columns 0..9 (centre 4): conv unit (3, 4)
    # sees rows 2..4, columns 3..5.
    # The smaller rectangles are drawn last: the red one covers the green one's bottom-left
    # corner, so the green edges are probed away from it (x 100, y 20).
    rects = {blue: (0, 8, 0, 10, 80, 80), green: (1, 4, 3, 6, 100, 20), red: (2, 4, 3, 5, 70, 60)}
    for colour, (y0, y1, x0, x1, mid_x, mid_y) in rects.items():
        top, bottom, left, right = y0 * s, (y1 + 1) * s - 1, x0 * s, (x1 + 1) * s - 1
        assert left < mid_x < right and top < mid_y < bottom
        for k in range(t):                        # each edge is t pixels wide, inwards
            assert at(top + k, mid_x) == colour, (colour, "top", k)
            assert at(bottom - k, mid_x) == colour, (colour, "bottom", k)
            assert at(mid_y, left + k) == colour, (colour, "left", k)
            assert at(mid_y, right - k) == colour, (colour, "right", k)
        assert at(top + t, mid_x) != colour and at(mid_y, right - t) != colour
    # outside the largest rectangle and inside the smallest: the grey canvas
    assert at(9 * s + 2, 11 * s + 2) == (128, 128, 128)
    assert at(3 * s + 8, 4 * s + 8) == (128, 128, 128)
    # the legend: one swatch per layer, in layer order, below the image
    legend_top = TITLE_TOP + 16 * s + 4
    for k, colour in enumerate([red, green, blue]):
        assert tuple(pic[legend_top + k * 10 + 3, MARGIN + 3]) == colour


def test_receptive_field_on_an_image_and_errors(rng):
    m = models.lenet5()
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pic = viz.receptive_field(m, "features.6", 0, 0, img, scale=4)
    # lenet5's C5 unit sees the whole 32x32 input: the image shows inside the outlines
    inner = pic[TITLE_TOP + 4 * 4:TITLE_TOP + 28 * 4, MARGIN + 4 * 4:MARGIN + 28 * 4]
    want = np.repeat(np.repeat(img[4:28, 4:28], 4, 0), 4, 1)
    changed = np.any(inner != want, axis=2)
    assert changed.mean() < 0.2                 # only the inner rectangles' outlines differ
    assert tuple(pic[TITLE_TOP, MARGIN]) == viz.PALETTE[4]     # 5 layers: the last is colour 4
    x = rng.standard_normal((1, 1, 32, 32)).astype(np.float32)
    viz.receptive_field(m, "features.3", 9, 9, x)   # a tensor image works too
    with pytest.raises(ValueError, match="outside"):
        viz.receptive_field(m, "features.3", 10, 0)
    with pytest.raises(NotImplementedError, match="Flatten"):
        viz.receptive_field(m, "classifier.0", 0, 0)
    with pytest.raises(ValueError, match="no node"):
        viz.receptive_field(m, "nope", 0, 0)


# ---- detections --------------------------------------------------------------------------

def test_detection_boxes_at_known_places():
    img = np.full((60, 80, 3), 50, np.uint8)
    boxes = np.array([[10, 20, 30, 40], [62.4, 1.0, 78.6, 59.2]], np.float32)
    pic = viz.detections(img, boxes, [0.87, 0.5], [1, 3], names=["bg", "cat", "dog", "bird"])
    assert np.array_equal(img, np.full((60, 80, 3), 50, np.uint8))   # the input is not changed
    c1, c3 = viz.PALETTE[1], viz.PALETTE[3]
    touched = np.zeros((60, 80), bool)

    def outline(left, top, right, bottom, colour, skip_rows=()):
        for y in range(top, bottom + 1):
            if y in skip_rows:
                continue
            for x in range(left, right + 1):
                edge = y < top + 2 or y > bottom - 2 or x < left + 2 or x > right - 2
                if edge:
                    assert tuple(pic[y, x]) == colour, (y, x)
                    touched[y, x] = True
                else:
                    assert tuple(pic[y, x]) == (50, 50, 50), (y, x)

    outline(10, 20, 29, 39, c1)              # round(x2) - 1, round(y2) - 1
    # 62.4 -> 62, 78.6 -> 79 - 1, 59.2 -> 59 - 1; rows 3..11 hold its caption (below)
    outline(62, 1, 78, 58, c3, skip_rows=range(3, 12))
    # box 1's caption "cat 0.87" (8 chars: 47 px + 2) on a 9-px band just above row 20
    band = pic[11:20, 10:10 + 49]
    assert ((band == c1).all(axis=2) | (band == 0).all(axis=2)).all()
    assert (band == 0).all(axis=2).sum() > 20             # black text on the light green
    assert (band[:, 0] == c1).all() and (band[0] == c1).all()
    touched[11:20, 10:59] = True
    # box 2 has no room above: its caption "bird 0.50" is inside, below its 2-px top edge
    band2 = pic[3:12, 62:80]
    assert ((band2 == c3).all(axis=2) | (band2 == 0).all(axis=2)).all()
    assert (band2 == 0).all(axis=2).sum() > 10
    touched[3:12, 62:80] = True
    assert (pic[~touched] == 50).all()                    # everything else is untouched


def test_detection_caption_without_names_and_errors():
    img = np.zeros((30, 30, 3), np.uint8)
    a = viz.detections(img, [[5, 15, 20, 25]], [0.9], [7])
    b = viz.detections(img, [[5, 15, 20, 25]], [0.9], [7], names=["x"])   # out of range: the number
    assert np.array_equal(a, b)
    assert np.array_equal(viz.detections(img, np.zeros((0, 4)), [], []), img)
    with pytest.raises(ValueError):
        viz.detections(img, [[0, 0, 1]], [0.5], [1])
    with pytest.raises(ValueError, match="finite"):
        viz.detections(img, [[0, 0, np.nan, 1]], [0.5], [1])


# ---- label maps --------------------------------------------------------------------------

def test_label_map_colours():
    labels = np.array([[0, 1, 2, 3], [15, 255, 20, 1]], np.int32)
    pic = viz.label_map(labels)
    voc = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 15: (192, 128, 128),
           255: (224, 224, 192), 20: (0, 64, 128)}
    assert pic.shape == (2, 4, 3)
    for (y, x), c in np.ndenumerate(labels):
        assert tuple(pic[y, x]) == voc[int(c)] == viz.voc_color(int(c))
    big = viz.label_map(labels, scale=3)
    assert np.array_equal(big, np.repeat(np.repeat(pic, 3, 0), 3, 1))
    img = np.full((2, 4, 3), 100, np.uint8)
    blended = viz.label_map(labels, img, alpha=0.5)
    assert tuple(blended[1, 0]) == (146, 114, 114)        # (100 + 192) / 2, (100 + 128) / 2
    assert tuple(blended[0, 0]) == (50, 50, 50)
    assert np.array_equal(viz.label_map(labels, img, alpha=0.0), img)
    with_legend = viz.label_map(labels, names=["background", "aeroplane"])
    assert with_legend.shape[0] > 2 and np.array_equal(with_legend[:2, :4], pic)
    # one swatch per class present (0, 1, 2, 3, 15, 20, 255), in order, 10 px apart
    for k, c in enumerate([0, 1, 2, 3, 15, 20, 255]):
        assert tuple(with_legend[2 + 4 + k * 10 + 3, 4 + 3]) == voc[c]
    with pytest.raises(ValueError, match="negative"):
        viz.label_map(np.array([[0, -1]]))
    with pytest.raises(ValueError):
        viz.label_map(labels, np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(TypeError):
        viz.label_map(labels.astype(np.float32))


# ---- path= and the command line ----------------------------------------------------------

def test_path_keyword_writes_the_same_pixels(tmp_path):
    m = models.lenet5()
    pic = viz.filters(m, "features.0", path=tmp_path / "f.png")
    assert np.array_equal(read_png(tmp_path / "f.png"), pic)


def test_command_line(tmp_path):
    m = models.lenet5()
    w = tmp_path / "w.safetensors"
    m.save(w)
    x = np.random.default_rng(1).standard_normal((3, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert viz.main(["filters", "lenet5", "features.0", "--weights", str(w), "-o", str(tmp_path / "f.png")]) == 0
    assert np.array_equal(read_png(tmp_path / "f.png"), viz.filters(m, "features.0"))
    assert viz.main(["activations", "lenet5", "features.0", "--input", str(tmp_path / "x.npy"), "--index", "2",
                     "-o", str(tmp_path / "a.ppm")]) == 0
    assert np.array_equal(read_ppm(tmp_path / "a.ppm"), viz.activations(m, x[2:3], "features.0"))
    assert viz.main(["receptive-field", "lenet5", "features.3", "4", "5", "--input", str(tmp_path / "x.npy"),
                     "-o", str(tmp_path / "r.png")]) == 0
    assert np.array_equal(read_png(tmp_path / "r.png"), viz.receptive_field(m, "features.3", 4, 5, x[0]))
    assert viz.main(["filters", "lenet5", "nope", "-o", str(tmp_path / "n.png")]) == 1
    assert viz.main(["filters", "no_such_model", "x", "-o", str(tmp_path / "n.png")]) == 1
    with pytest.raises(SystemExit) as e:
        viz.main(["filters", "lenet5"])
    assert e.value.code == 2
    r = subprocess.run([sys.executable, "-m", "swiftcnn.viz", "filters", "lenet5", "features.3", "-o",
                        str(tmp_path / "cli.png")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(read_png(tmp_path / "cli.png"), viz.filters(models.lenet5(), "features.3"))


def write_pnm(path, pixels):
    """A binary PPM (P6) or, for [H, W], PGM (P5) with a comment in the header."""
    magic = b"P6" if pixels.ndim == 3 else b"P5"
    h, w = pixels.shape[:2]
    path.write_bytes(magic + b"\n# made by test_viz\n%d %d\n255\n" % (w, h) + pixels.tobytes())


def test_command_line_detect_and_segment(tmp_path, capsys):
    rng = np.random.default_rng(7)
    image = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    write_pnm(tmp_path / "photo.ppm", image)
    # detect: the boxes of Model.detect on the file's pixels, drawn with COCO names.
    det = models.create("ssdlite320_mobilenet_v3_large")
    assert viz.main(["detect", "ssdlite320_mobilenet_v3_large", str(tmp_path / "photo.ppm"),
                     "--score-threshold", "0.02", "-o", str(tmp_path / "d.png")]) == 0
    found = det.detect([image], score_threshold=0.02)[0]
    assert f"{len(found['labels'])} detections" in capsys.readouterr().out
    want = viz.detections(image, found["boxes"], found["scores"], found["labels"], models.coco_classes())
    assert np.array_equal(read_png(tmp_path / "d.png"), want)
    # segment: Model.segment's labels as a VOC label map over the image (a PGM input is repeated to RGB).
    grey = image[:, :, 1].copy()
    write_pnm(tmp_path / "grey.pgm", grey)
    seg = models.create("fcn_resnet50")
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert viz.main(["segment", "fcn_resnet50", str(tmp_path / "grey.pgm"), "--alpha", "0.7",
                     "-o", str(tmp_path / "s.ppm")]) == 0
    labels = seg.segment(rgb)["labels"][0]
    assert np.array_equal(read_ppm(tmp_path / "s.ppm"), viz.label_map(labels, rgb, models.voc_classes(), alpha=0.7))
    # Errors: a model of the wrong kind, a file that is not a PNM, a truncated one.
    assert viz.main(["detect", "lenet5", str(tmp_path / "photo.ppm"), "-o", str(tmp_path / "x.png")]) == 1
    (tmp_path / "bad.ppm").write_bytes(b"GIF89a")
    assert viz.main(["segment", "fcn_resnet50", str(tmp_path / "bad.ppm"), "-o", str(tmp_path / "x.png")]) == 1
    (tmp_path / "short.ppm").write_bytes(b"P6\n56 40\n255\n" + image.tobytes()[:100])
    err = capsys.readouterr().err
    assert viz.main(["detect", "ssd300_vgg16", str(tmp_path / "short.ppm"), "-o", str(tmp_path / "x.png")]) == 1
    assert "truncated" in capsys.readouterr().err and "not a binary PPM" in err
    assert not (tmp_path / "x.png").exists()
