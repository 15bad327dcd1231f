"""The lecture's building blocks from Python: numpy arrays in, numpy arrays out.

Run by `make demo` with the project's .venv (after `make python`).
"""
import time

import numpy as np

import swiftcnn
from swiftcnn import filters, image

print(f"swiftcnn {swiftcnn.__version__}")

# Images as numbers: an RGB picture is a height x width x 3 array of 0..255.
rng = np.random.default_rng(0)
pixels = np.zeros((48, 64, 3), dtype=np.uint8)
pixels[..., 0] = np.linspace(0, 255, 64, dtype=np.uint8)         # red grows left to right
pixels[..., 2] = np.linspace(255, 0, 48, dtype=np.uint8)[:, None]  # blue fades downwards
pixels[16:32, 20:44] = (255, 255, 0)                               # a yellow block
x = image.to_tensor(pixels)                                         # [3, H, W] floats in [0, 1]
hsv = image.rgb_to_hsv(x)
print(f"\nRGB {pixels.shape} uint8 -> tensor {x.shape}; the yellow block in HSV: "
      f"H={hsv[0, 20, 30]:.0f} deg, S={hsv[1, 20, 30]:.2f}, V={hsv[2, 20, 30]:.2f}")

# Hand-made filters.
edges = filters.apply(x, filters.sobel_x(), border="replicate")
print(f"Sobel x on the picture: strongest response {np.abs(edges).max():.2f} "
      f"at column {np.unravel_index(np.abs(edges[1]).argmax(), edges[1].shape)[1]} (the block's edge)")

# Convolution is cross-correlation: compare with numpy on the lecture's 1-D example.
xs, ws = np.array([2, 8, 3, 7, 1, 2, 0, 4, 5], np.float32), np.array([2, 1, 5, 3], np.float32)
print(f"\n1-D: convolve1d {swiftcnn.convolve1d(xs, ws)}  (numpy {np.convolve(xs, ws, 'valid')})")
print(f"     correlate1d {swiftcnn.correlate1d(xs, ws)}  (numpy {np.correlate(xs, ws, 'valid')})")

# A tiny CNN by hand: conv -> ReLU -> max pool -> fully connected -> softmax.
batch = rng.standard_normal((8, 3, 32, 32), dtype=np.float32)
w1 = rng.standard_normal((16, 3, 3, 3), dtype=np.float32) * 0.2
w2 = rng.standard_normal((10, 16 * 16 * 16), dtype=np.float32) * 0.01
start = time.perf_counter()
h = swiftcnn.conv2d(batch, w1, padding=1)
h = swiftcnn.relu(h)
h = swiftcnn.max_pool2d(h, 2)
logits = swiftcnn.linear(h.reshape(8, -1), w2)
probs = swiftcnn.softmax(logits, axis=-1)
elapsed = (time.perf_counter() - start) * 1e3
print(f"\ntiny CNN on a batch of 8: {batch.shape} -> {probs.shape} in {elapsed:.1f} ms; "
      f"rows sum to {probs.sum(axis=1).min():.4f}..{probs.sum(axis=1).max():.4f}")
print(f"receptive field of conv3x3 -> pool2: {swiftcnn.receptive_field([(3, 1), (2, 2)])} pixels")

# Bad input is an exception with the library's message, never a crash.
try:
    swiftcnn.conv2d(batch, w1, stride=0)
except ValueError as e:
    print(f"\nstride 0 -> ValueError: {e}")
try:
    swiftcnn.output_size(7, 3, stride=3)
except ValueError as e:
    print(f"output_size(7, 3, stride=3) -> ValueError: {e}")
