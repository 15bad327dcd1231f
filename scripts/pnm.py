"""Binary PPM/PGM (maxval 255) files as numpy arrays, for the scripts that check the C
examples' image output (check_image_examples.py, check_segment_example.py)."""
import numpy as np


def read_pnm(path):
    """A binary PPM (P6) or PGM (P5) with maxval 255 as [H, W, 3] or [H, W] uint8."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; then exactly one whitespace byte
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval != 255:
        raise ValueError(f"{path}: not a binary PPM/PGM with maxval 255 ({magic!r}, maxval {maxval})")
    ch = 3 if magic == b"P6" else 1
    px = np.frombuffer(data[pos + 1:pos + 1 + w * h * ch], dtype=np.uint8)
    return px.reshape(h, w, ch) if ch == 3 else px.reshape(h, w)


def write_pnm(path, px):
    """[H, W, 3] uint8 as P6 or [H, W] as P5."""
    h, w = px.shape[:2]
    magic = b"P6" if px.ndim == 3 else b"P5"
    with open(path, "wb") as f:
        f.write(magic + b"\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(px, dtype=np.uint8).tobytes())
