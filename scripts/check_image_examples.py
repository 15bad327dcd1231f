#!/usr/bin/env python3
"""Checks that the C examples read PNG and JPEG (examples/image_io.h, stb_image) exactly as
they read the PPM/PGM of the same pixels. Run by `make check-image-examples` (part of
`make test`).

The JPEG is a real photo, scikit-learn's china.jpg (640x427). examples/filters.c decodes it
and writes the pixels it read as original.ppm; this script writes those pixels as PNG files
itself (numpy + zlib, every PNG row filter: None, Sub, Up, Average, Paeth; RGB, RGBA and
gray). Then, for each example, the output on the PNG or JPEG must equal the output on the PPM:

- filters.c: all eight filtered images and the decoded original, byte for byte (JPEG, PNG,
  RGBA PNG, gray PNG against PGM);
- classify.c (resnet18, seeded weights): the printed top-5 with probabilities;
- detect.c (ssdlite320_mobilenet_v3_large, seeded): the detections and the boxed image;
- segment.c (fcn_resnet50, seeded, on a 64x48 crop as PNG): the label map and colour map.

With Pillow in .venv, stb_image's JPEG decode is also compared with Pillow's (libjpeg):
JPEG decoders may differ by a few levels, so that is a bound, not equality. A truncated
PNG must fail with a message and exit status 1, not crash. When the examples were built
without stb_image, the check makes sure a PNG gets the clear "built without stb_image"
message and says the rest was skipped.

    .venv/bin/python scripts/check_image_examples.py [build/examples]

Prints one line per check and "N passed, N failed"; exit status 0 when all passed.
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pnm import read_pnm, write_pnm  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {what}")
    else:
        failed += 1
        print(f"FAIL  {what}")


def png_filtered_rows(px):
    """The PNG scanlines of px ([H, W, C] uint8), row r using filter r % 5 (PNG spec 9.2)."""
    h = px.shape[0]
    bpp = px.shape[2]
    raw = px.reshape(h, -1).astype(np.int32)
    out = []
    for r in range(h):
        x = raw[r]
        a = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])  # left
        b = raw[r - 1] if r > 0 else np.zeros_like(x)  # up
        c = np.concatenate([np.zeros(bpp, np.int32), b[:-bpp]])  # up-left
        kind = r % 5
        if kind == 0:
            pred = np.zeros_like(x)
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        out.append(bytes([kind]) + ((x - pred) % 256).astype(np.uint8).tobytes())
    return b"".join(out)


def write_png(path, px):
    """An 8-bit PNG of px: [H, W] gray, [H, W, 3] RGB or [H, W, 4] RGBA."""
    if px.ndim == 2:
        px = px[:, :, None]
    h, w, ch = px.shape
    color_type = {1: 0, 3: 2, 4: 6}[ch]

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(png_filtered_rows(px), 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def same_files(dir_a, dir_b, names):
    return all(open(os.path.join(dir_a, n), "rb").read() == open(os.path.join(dir_b, n), "rb").read() for n in names)


def filters_outputs(exe, image, outdir):
    """Runs filters.c on image into outdir; returns (returncode, sorted output names, stderr)."""
    os.makedirs(outdir)
    r = run([exe, image, outdir])
    return r.returncode, sorted(os.listdir(outdir)), r.stderr


def stable_lines(text):
    """The output without timings, sorted (detections of equal score may be listed in any order)."""
    return sorted(l for l in text.splitlines() if " ms" not in l and not l.startswith("wrote "))


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else "build/examples"
    exe = {n: os.path.join(bin_dir, n) for n in ("filters", "classify", "detect", "segment")}
    for path in exe.values():
        if not os.access(path, os.X_OK):
            print(f"check_image_examples: {path} is not built (run `make examples`)", file=sys.stderr)
            return 1
    try:
        import sklearn
    except ImportError:
        print("check_image_examples: scikit-learn is not installed (it ships the photo); skipped", file=sys.stderr)
        return 0
    jpeg = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", "china.jpg")

    with tempfile.TemporaryDirectory() as d:
        def p(name):
            return os.path.join(d, name)

        code, names, err = filters_outputs(exe["filters"], jpeg, p("jpeg"))
        if code != 0 and "built without stb_image" in err:
            check("without stb_image" in err and "libstb-dev" in err and "JPEG" in err,
                  "built without stb_image: a JPEG gets the clear message (" + err.strip()[-60:] + ")")
            write_png(p("tiny.png"), np.zeros((2, 3, 3), np.uint8))
            r = run([exe["filters"], p("tiny.png"), d])
            check(r.returncode == 1 and "a PNG file, and this example was built without stb_image" in r.stderr,
                  "built without stb_image: a PNG gets the clear message")
            print("skipped the PNG/JPEG comparisons: the examples were built without stb_image "
                  "(install libstb-dev, e.g. `make stb`, then `make examples`)")
            print(f"{passed} passed, {failed} failed")
            return 1 if failed else 0
        check(code == 0 and "original.ppm" in names and len(names) == 9, "filters reads the JPEG" + (f" ({err.strip()})" if err.strip() else ""))
        if code != 0:
            print(f"{passed} passed, {failed} failed")
            return 1
        rgb = read_pnm(p("jpeg/original.ppm"))
        check(rgb.shape == (427, 640, 3), f"china.jpg decodes to 640x427 RGB (got {rgb.shape})")
        ppm = p("jpeg/original.ppm")

        # filters: JPEG, PPM of the same pixels, PNG (RGB, RGBA), gray PNG vs PGM
        code, names_ppm, _ = filters_outputs(exe["filters"], ppm, p("ppm"))
        check(code == 0 and names_ppm == names and same_files(p("jpeg"), p("ppm"), names),
              "filters: JPEG and its PPM give the same 8 filtered images, byte for byte")
        write_png(p("china.png"), rgb)
        code, names_png, _ = filters_outputs(exe["filters"], p("china.png"), p("png"))
        check(code == 0 and names_png == names and same_files(p("png"), p("ppm"), names),
              "filters: PNG (all 5 row filters) and PPM give the same decoded pixels and filtered images")
        alpha = (np.arange(427 * 640, dtype=np.uint32).reshape(427, 640, 1) * 7 % 256).astype(np.uint8)
        write_png(p("rgba.png"), np.concatenate([rgb, alpha], axis=2))
        code, names_rgba, _ = filters_outputs(exe["filters"], p("rgba.png"), p("rgba"))
        check(code == 0 and names_rgba == names and same_files(p("rgba"), p("ppm"), names),
              "filters: an RGBA PNG reads as its RGB (alpha dropped), same images")
        gray = (rgb.astype(np.uint32) @ np.array([77, 150, 29], np.uint32) >> 8).astype(np.uint8)
        write_png(p("gray.png"), gray)
        write_pnm(p("gray.pgm"), gray)
        code, names_gpng, _ = filters_outputs(exe["filters"], p("gray.png"), p("gray_png"))
        code2, names_gpgm, _ = filters_outputs(exe["filters"], p("gray.pgm"), p("gray_pgm"))
        check(code == 0 and code2 == 0 and "original.pgm" in names_gpng and names_gpng == names_gpgm
              and same_files(p("gray_png"), p("gray_pgm"), names_gpng)
              and np.array_equal(read_pnm(p("gray_png/original.pgm")), gray),
              "filters: a gray PNG reads as 1 channel, same images as its PGM")

        # classify: the printed top-5 (probabilities to 0.01%) on JPEG, PNG and PPM
        outs = [run([exe["classify"], "resnet18", "-", img]) for img in (jpeg, p("china.png"), ppm)]
        check(all(r.returncode == 0 for r in outs) and "top-5:" in outs[0].stdout
              and stable_lines(outs[0].stdout) == stable_lines(outs[1].stdout) == stable_lines(outs[2].stdout),
              "classify resnet18: JPEG, PNG and PPM print the same top-5")

        # detect: the detections and the image with the boxes drawn
        outs = [run([exe["detect"], "ssdlite320_mobilenet_v3_large", "-", img, p(f"det{i}.ppm")])
                for i, img in enumerate((jpeg, p("china.png"), ppm))]
        check(all(r.returncode == 0 for r in outs) and outs[0].stdout.count("[") >= 1,
              "detect runs on JPEG, PNG and PPM and prints detections")
        check(stable_lines(outs[0].stdout) == stable_lines(outs[1].stdout) == stable_lines(outs[2].stdout)
              and open(p("det0.ppm"), "rb").read() == open(p("det1.ppm"), "rb").read() == open(p("det2.ppm"), "rb").read(),
              "detect ssdlite320: JPEG, PNG and PPM give the same detections and boxed image")

        # segment: the label map of a 64x48 crop, PNG vs PPM
        crop = np.ascontiguousarray(rgb[200:248, 300:364])
        write_png(p("crop.png"), crop)
        write_pnm(p("crop.ppm"), crop)
        outs = [run([exe["segment"], p(f"crop.{ext}"), p(f"lab_{ext}.pgm"), p(f"col_{ext}.ppm")]) for ext in ("png", "ppm")]
        check(all(r.returncode == 0 for r in outs)
              and open(p("lab_png.pgm"), "rb").read() == open(p("lab_ppm.pgm"), "rb").read()
              and open(p("col_png.ppm"), "rb").read() == open(p("col_ppm.ppm"), "rb").read()
              and stable_lines(outs[0].stdout.replace("png", "ppm")) == stable_lines(outs[1].stdout),
              "segment fcn_resnet50: a PNG crop and its PPM give the same label and colour maps")

        # stb_image's JPEG decode against Pillow's (libjpeg), when Pillow is there
        try:
            from PIL import Image
        except ImportError:
            print("skip  stb_image vs Pillow JPEG decode: Pillow is not in this Python")
        else:
            ref = np.asarray(Image.open(jpeg).convert("RGB")).astype(np.int32)
            diff = np.abs(ref - rgb.astype(np.int32))
            check(ref.shape == rgb.shape and diff.max() <= 8 and diff.mean() < 0.25,
                  f"stb_image's JPEG decode is within {diff.max()} levels of Pillow's (mean {diff.mean():.3f})")

        # a damaged file: a message and exit status 1, not a crash
        with open(p("china.png"), "rb") as f:
            head = f.read(2000)
        with open(p("cut.png"), "wb") as f:
            f.write(head)
        os.makedirs(p("cut"))
        r = run([exe["filters"], p("cut.png"), p("cut")])
        check(r.returncode == 1 and "cut.png" in r.stderr and os.listdir(p("cut")) == [],
              f"a truncated PNG fails cleanly ({r.stderr.strip()[-50:]})")
        r = run([exe["classify"], "resnet18", "-", p("nothing.png")])
        check(r.returncode == 1 and "cannot open" in r.stderr, "a missing image file fails cleanly")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
