"""Output sizes, receptive fields, parameter and MAC counts against the formulas."""
import math

import numpy as np
import pytest

import swiftcnn
import reference as R


def test_seed_output_sizes():
    assert swiftcnn.output_size(7, 3) == 5
    assert swiftcnn.output_size(7, 3, stride=2) == 3
    with pytest.raises(ValueError, match=r"2\.33") as info:
        swiftcnn.output_size(7, 3, stride=3)
    assert isinstance(info.value, swiftcnn.SwiftCNNError)
    assert swiftcnn.output_size(7, 3, stride=3, mode="floor") == 2
    assert swiftcnn.output_size(7, 3, stride=3, mode="ceil") == 3
    assert swiftcnn.output_size(7, 3, padding=1) == 7
    assert swiftcnn.output_size(32, 5) == 28


def test_output_size_sweep(rng):
    for _ in range(300):
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 8))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        span = n + 2 * p - d * (k - 1) - 1
        if span < 0:
            with pytest.raises(ValueError):
                swiftcnn.output_size(n, k, s, p, d, mode="floor")
            continue
        assert swiftcnn.output_size(n, k, s, p, d, mode="floor") == span // s + 1
        assert swiftcnn.output_size(n, k, s, p, d, mode="ceil") == -(-span // s) + 1
        if span % s == 0:
            assert swiftcnn.output_size(n, k, s, p, d) == span // s + 1
        else:
            with pytest.raises(swiftcnn.InvalidArgumentError):
                swiftcnn.output_size(n, k, s, p, d)


@pytest.mark.parametrize("args, fragment", [
    ((7, 0), "kernel"), ((7, 3, 0), "stride"), ((7, 3, 1, -1), "padding"), ((7, 3, 1, 0, 0), "dilation"),
    ((2, 5), "kernel|larger|input"), ((0, 1), "input|size"), ((1 << 62, 1, 1, 1 << 62), "overflow"),
])
def test_output_size_bad_inputs(args, fragment):
    with pytest.raises(swiftcnn.InvalidArgumentError, match=f"(?i){fragment}"):
        swiftcnn.output_size(*args, mode="floor")


def test_output_size_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        swiftcnn.output_size(7, 3, mode="round")
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)mode"):
        swiftcnn._swiftcnn.output_size(7, 3, 1, 0, 1, 7)


def test_seed_receptive_field():
    assert swiftcnn.receptive_field([(3, 1), (3, 1)]) == 5
    assert swiftcnn.receptive_field([(3, 1, 2)]) == 5           # dilated 3x3 sees 5
    assert swiftcnn.receptive_field([(3, 1), (3, 1), (3, 1)]) == 7
    assert swiftcnn.receptive_field([]) == 1
    assert swiftcnn.receptive_field([(11, 4), (3, 2), (5, 1)]) == 11 + 2 * 4 + 4 * 8   # AlexNet-like


def test_receptive_field_sweep(rng):
    for _ in range(50):
        layers = [tuple(int(v) for v in (rng.integers(1, 6), rng.integers(1, 4), rng.integers(1, 3)))[:int(rng.integers(2, 4))]
                  for _ in range(int(rng.integers(0, 6)))]
        assert swiftcnn.receptive_field(layers) == R.receptive_field(layers)
    size, jump = swiftcnn._swiftcnn.receptive_field([3, 3], [2, 2], None)
    assert (size, jump) == (7, 4)


def test_receptive_field_bad_inputs():
    for layers, fragment in [([(0, 1)], "kernel"), ([(3, 0)], "stride"), ([(3, 1, 0)], "dilation")]:
        with pytest.raises(swiftcnn.InvalidArgumentError, match=f"(?i){fragment}"):
            swiftcnn.receptive_field(layers)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)overflow"):
        swiftcnn.receptive_field([(1 << 40, 1 << 40)] * 4)
    with pytest.raises(ValueError, match=r"layers\[0\]"):
        swiftcnn.receptive_field([(3,)])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        swiftcnn.receptive_field([(3, 1), 3])
    with pytest.raises(swiftcnn.InvalidArgumentError, match="strides"):
        swiftcnn._swiftcnn.receptive_field([3, 3], [1], None)


def test_seed_weight_counts():
    mlp = [224 * 224, 1024, 2048, 4096, 1000]
    assert sum(swiftcnn.linear_parameter_count(a, b, bias=False) for a, b in zip(mlp, mlp[1:])) == 65_961_984
    chans = [1, 128, 256, 512]
    cnn = sum(swiftcnn.conv2d_parameter_count(a, b, 3, bias=False) for a, b in zip(chans, chans[1:]))
    cnn += swiftcnn.linear_parameter_count(1024, 1000, bias=False)
    assert cnn == 2_499_712


def test_counts_formulas(rng):
    for _ in range(50):
        g = int(rng.integers(1, 4))
        i, o = g * int(rng.integers(1, 20)), g * int(rng.integers(1, 20))
        kh, kw, oh, ow = (int(v) for v in rng.integers(1, 8, 4))
        for bias in (False, True):
            assert swiftcnn.conv2d_parameter_count(i, o, (kh, kw), groups=g, bias=bias) == o * (i // g) * kh * kw + (o if bias else 0)
            assert swiftcnn.linear_parameter_count(i, o, bias=bias) == i * o + (o if bias else 0)
        assert swiftcnn.conv2d_macs(i, o, (kh, kw), (oh, ow), groups=g) == o * (i // g) * kh * kw * oh * ow
        assert swiftcnn.linear_macs(i, o) == i * o


def test_counts_bad_inputs():
    big = 1 << 40
    cases = [
        lambda: swiftcnn.conv2d_parameter_count(3, 4, 3, groups=2),           # groups does not divide 3
        lambda: swiftcnn.conv2d_parameter_count(0, 4, 3),
        lambda: swiftcnn.conv2d_parameter_count(3, 4, (0, 3)),
        lambda: swiftcnn.conv2d_parameter_count(big, big, big),                 # overflow
        lambda: swiftcnn.linear_parameter_count(-1, 3),
        lambda: swiftcnn.linear_parameter_count(big, big),
        lambda: swiftcnn.conv2d_macs(3, 4, 3, 0),
        lambda: swiftcnn.conv2d_macs(big, big, 3, big),
        lambda: swiftcnn.linear_macs(0, 3),
        lambda: swiftcnn.linear_macs(big, big),
    ]
    for call in cases:
        with pytest.raises(swiftcnn.InvalidArgumentError) as info:
            call()
        assert str(info.value)
    with pytest.raises(TypeError, match="in_channels"):
        swiftcnn.conv2d_parameter_count(3.0, 4, 3)
    with pytest.raises(OverflowError):
        swiftcnn.linear_macs(1 << 64, 1)
