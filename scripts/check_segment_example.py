#!/usr/bin/env python3
"""Checks examples/segment.c: runs build/examples/segment on a small synthetic PPM and
compares its label map (the PGM of class indices) with Model.segment on the same pixels
(same library, same seeded fcn_resnet50), its colour PPM with the VOC palette of those labels,
and its per-class pixel counts with the labels'. With a second path, also checks that
examples/shapes.c prints the lecture's average-pool example exactly (36.5 80 / 12 15) with the
misprint noted. Run by `make check-segment-example`.

    .venv/bin/python scripts/check_segment_example.py [build/examples/segment [build/examples/shapes]]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import swiftcnn
from swiftcnn import models

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pnm import read_pnm, write_pnm  # noqa: E402


def voc_color(c):
    rgb = [0, 0, 0]
    for j in range(8):
        for k in range(3):
            rgb[k] |= ((c >> k) & 1) << (7 - j)
        c >>= 3
    return rgb


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else "build/examples/segment"
    h, w = 29, 38
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // (w - 1)), (yy * 255 // (h - 1)), ((xx + yy) * 3) % 256], axis=-1).astype(np.uint8)
    with tempfile.TemporaryDirectory() as d:
        src, pgm, ppm = (os.path.join(d, n) for n in ("in.ppm", "labels.pgm", "color.ppm"))
        write_pnm(src, img)
        r = subprocess.run([exe, src, pgm, ppm], capture_output=True, text=True, timeout=300)
        print(r.stdout, end="")
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        labels = read_pnm(pgm)
        color = read_pnm(ppm)
    want = models.create("fcn_resnet50").segment(img)["labels"][0]
    assert labels.shape == (h, w) and color.shape == (h, w, 3)
    assert np.array_equal(labels, want), "the PGM's labels differ from Model.segment's"
    palette = np.array([voc_color(c) for c in range(256)], dtype=np.uint8)
    assert np.array_equal(color, palette[labels]), "the colour map is not the VOC palette of the labels"
    names = models.voc_classes()
    for c in np.unique(labels):
        line = [l for l in r.stdout.splitlines() if l.split()[:2] == [str(c), names[c]]]
        assert line and int(line[0].split()[2]) == int((labels == c).sum()), f"class {c}: count line missing or wrong"
    if len(sys.argv) > 2:
        out = subprocess.run([sys.argv[2]], capture_output=True, text=True, timeout=60, check=True).stdout
        lines = out.splitlines()
        i = next(k for k, l in enumerate(lines) if "average pool of the lecture's 31 15 28 184 map" in l)
        assert [float(v) for v in lines[i + 1].split()] == [36.5, 80.0], lines[i + 1]
        assert [float(v) for v in lines[i + 2].split()] == [12.0, 15.0], lines[i + 2]
        assert "misprint" in lines[i + 3] and "36.5" in lines[i + 3]
        print("shapes example: the lecture's average pool gives 36.5 80 / 12 15, misprint noted")
    print(f"segment example: {h}x{w} label map equals Model.segment's, palette and counts check out "
          f"(swiftcnn {swiftcnn.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
