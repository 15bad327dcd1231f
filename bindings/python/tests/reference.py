"""Independent numpy reference implementations (float64) that the tests compare against.

Written from the formulas (PyTorch / numpy / torchvision semantics as the spec states them),
not from the library's code.
"""
import colorsys
import math

import numpy as np


# ---- convolution ----------------------------------------------------------------------------

def conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1, flip=False):
    """Cross-correlation (or true convolution with flip=True) by explicit loops over the kernel."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    batched = x.ndim == 4
    if not batched:
        x = x[None]
    if flip:
        w = w[:, :, ::-1, ::-1]
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    top, bottom, left, right = pad
    sh, sw = stride
    dh, dw = dil
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        xs = xp[:, g * cg:(g + 1) * cg]
        for k in range(kh):
            for l in range(kw):
                patch = xs[:, :, k * dh: k * dh + sh * (oh - 1) + 1: sh, l * dw: l * dw + sw * (ow - 1) + 1: sw]
                out[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, k, l])
        if b is not None:
            out[:, oc] += b[oc]
    return out if batched else out[0]


def correlate1d(x, w, mode):
    return np.correlate(np.asarray(x, np.float64), np.asarray(w, np.float64), mode)


def convolve1d(x, w, mode):
    return np.convolve(np.asarray(x, np.float64), np.asarray(w, np.float64), mode)


# ---- pooling --------------------------------------------------------------------------------

def pool_out_size(n, k, s, p, ceil_mode):
    """PyTorch's pooling output size, including ceil mode's last-window rule."""
    num = n + 2 * p - k
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool(x, k, s, p, ceil_mode, reduce):
    x = np.asarray(x, np.float64)
    batched = x.ndim == 4
    if not batched:
        x = x[None]
    n, c, h, w = x.shape
    oh = pool_out_size(h, k[0], s[0], p[0], ceil_mode)
    ow = pool_out_size(w, k[1], s[1], p[1], ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            out[:, :, i, j] = reduce(x, h0, w0, h, w)
    return out if batched else out[0]


def max_pool2d(x, k, s, p, ceil_mode=False):
    def reduce(x, h0, w0, h, w):
        hs, he = max(h0, 0), min(h0 + k[0], h)
        ws, we = max(w0, 0), min(w0 + k[1], w)
        return x[:, :, hs:he, ws:we].max(axis=(2, 3))
    return _pool(x, k, s, p, ceil_mode, reduce)


def avg_pool2d(x, k, s, p, ceil_mode=False, count_include_pad=True):
    def reduce(x, h0, w0, h, w):
        he_pad, we_pad = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
        pool_size = (he_pad - h0) * (we_pad - w0)
        hs, he = max(h0, 0), min(he_pad, h)
        ws, we = max(w0, 0), min(we_pad, w)
        total = x[:, :, hs:he, ws:we].sum(axis=(2, 3))
        divisor = pool_size if count_include_pad else (he - hs) * (we - ws)
        return total / divisor
    return _pool(x, k, s, p, ceil_mode, reduce)


def adaptive_avg_pool2d(x, size):
    x = np.asarray(x, np.float64)
    h, w = x.shape[-2:]
    oh, ow = size
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[..., i, j] = x[..., hs:he, ws:we].mean(axis=(-2, -1))
    return out


# ---- layers ---------------------------------------------------------------------------------

def softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    x = np.asarray(x, np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))   # = 1/(1+exp(-x)), without overflow


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """PyTorch: b_c = a_c / (k + alpha/size * sum_{c' in [c - size//2, c + (size-1)//2]} a_c'^2)^beta."""
    x = np.asarray(x, np.float64)
    c = x.shape[1]
    sq = x * x
    out = np.empty_like(x)
    for ch in range(c):
        lo, hi = max(ch - size // 2, 0), min(ch + (size - 1) // 2, c - 1)
        s = sq[:, lo:hi + 1].sum(axis=1)
        out[:, ch] = x[:, ch] / (k + alpha / size * s) ** beta
    return out


def batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape) + eps)
    if weight is not None:
        y = y * np.reshape(weight, shape)
    if bias is not None:
        y = y + np.reshape(bias, shape)
    return y


def linear(x, w, b=None):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T
    return y if b is None else y + np.asarray(b, np.float64)


def cross_entropy(logits, y):
    """Mean softmax cross-entropy of `logits` [N, C] against integer labels `y`, in float64."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


# ---- analysis -------------------------------------------------------------------------------

def receptive_field(layers):
    size, jump = 1, 1
    for layer in layers:
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) > 2 else 1
        size += d * (k - 1) * jump
        jump *= s
    return size


# ---- images ---------------------------------------------------------------------------------

def rgb_to_hsv(rgb):
    """Per pixel with colorsys; H in degrees."""
    rgb = np.asarray(rgb, np.float64)
    out = np.empty_like(rgb)
    flat_in = rgb.reshape(-1, 3, rgb.shape[-2] * rgb.shape[-1])
    flat_out = out.reshape(flat_in.shape)
    for n in range(flat_in.shape[0]):
        for i in range(flat_in.shape[2]):
            h, s, v = colorsys.rgb_to_hsv(*flat_in[n, :, i])
            flat_out[n, :, i] = (h * 360.0, s, v)
    return out


def hsv_to_rgb(hsv):
    hsv = np.asarray(hsv, np.float64)
    out = np.empty_like(hsv)
    flat_in = hsv.reshape(-1, 3, hsv.shape[-2] * hsv.shape[-1])
    flat_out = out.reshape(flat_in.shape)
    for n in range(flat_in.shape[0]):
        for i in range(flat_in.shape[2]):
            h, s, v = flat_in[n, :, i]
            flat_out[n, :, i] = colorsys.hsv_to_rgb((h % 360.0) / 360.0, s, v)
    return out


def resize_bilinear(x, oh, ow):
    """PyTorch interpolate(mode='bilinear', align_corners=False, antialias=False)."""
    x = np.asarray(x, np.float64)
    h, w = x.shape[-2:]

    def coords(out_n, in_n):
        scale = in_n / out_n
        src = (np.arange(out_n) + 0.5) * scale - 0.5
        src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        i0 = np.minimum(i0, in_n - 1)
        i1 = np.minimum(i0 + 1, in_n - 1)
        lam = src - i0
        return i0, i1, lam

    y0, y1, ly = coords(oh, h)
    x0, x1, lx = coords(ow, w)
    top = x[..., y0, :][..., x0] * (1 - lx) + x[..., y0, :][..., x1] * lx
    bot = x[..., y1, :][..., x0] * (1 - lx) + x[..., y1, :][..., x1] * lx
    return top * (1 - ly)[:, None] + bot * ly[:, None]


def center_crop(x, h, w):
    """torchvision: top = int(round((H - h) / 2.0)), left likewise (Python's round: half to even)."""
    H, W = x.shape[-2:]
    top = int(round((H - h) / 2.0))
    left = int(round((W - w) / 2.0))
    return np.asarray(x)[..., top:top + h, left:left + w]


# ---- filters --------------------------------------------------------------------------------

def _border_index(i, n, border):
    if 0 <= i < n:
        return i
    if border == "zero":
        return None
    if border == "replicate":
        return min(max(i, 0), n - 1)
    # reflect (edge not repeated), repeated for far-away indices: period 2(n-1)
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = i % period
    return i if i < n else period - i


def apply_filter(image, kernel, border="zero"):
    img = np.asarray(image, np.float64)
    k = np.asarray(kernel, np.float64)
    kh, kw = k.shape
    ah, aw = (kh - 1) // 2, (kw - 1) // 2
    h, w = img.shape[-2:]
    rows = [[_border_index(i - ah + a, h, border) for a in range(kh)] for i in range(h)]
    cols = [[_border_index(j - aw + b, w, border) for b in range(kw)] for j in range(w)]
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            acc = np.zeros(img.shape[:-2])
            for a in range(kh):
                r = rows[i][a]
                if r is None:
                    continue
                for b in range(kw):
                    c = cols[j][b]
                    if c is None:
                        continue
                    acc = acc + k[a, b] * img[..., r, c]
            out[..., i, j] = acc
    return out


def gaussian(size, sigma):
    c = (size - 1) / 2.0
    r = np.arange(size) - c
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * sigma * sigma))
    return g / g.sum()


# ---- seed examples ----------------------------------------------------------------------------

SEED_IMAGE = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 0, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 90, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
], dtype=np.float32)

# The seed's 8x8 table, with its typo in the last two rows corrected.
SEED_BOX_TABLE = np.array([
    [0, 10, 20, 30, 30, 30, 20, 10],
    [0, 20, 40, 60, 60, 60, 40, 20],
    [0, 30, 50, 80, 80, 90, 60, 30],
    [0, 30, 50, 80, 80, 90, 60, 30],
    [0, 20, 30, 50, 50, 60, 40, 20],
    [0, 10, 20, 30, 30, 30, 20, 10],
    [10, 10, 10, 0, 0, 0, 0, 0],
    [10, 10, 10, 0, 0, 0, 0, 0],
], dtype=np.float64)

SEED_POOL = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], dtype=np.float32)
SEED_POOL2 = np.array([[29, 15, 28, 184], [0, 100, 70, 38], [12, 12, 7, 2], [12, 12, 45, 6]], dtype=np.float32)
