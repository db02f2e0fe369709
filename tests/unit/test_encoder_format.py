"""The dlib .dat reader (ml/encoder) on hand-made streams: a parser bug fails here, fast,
without dlib's model file. The writer below follows dlib/serialize.h independently of the
reader (packed integers, mantissa/exponent floats, length-prefixed strings, '0'/'1' bools,
version-2 tensors of raw little-endian floats)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from ml.encoder.dlib_net import anet_layers, parse_network
from ml.encoder.dlib_stream import DlibFormatError, DlibStream

# --- a minimal writer of dlib's format --------------------------------------------------------


def w_int(v: int) -> bytes:
    mag = abs(v).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return bytes([len(mag) | (0x80 if v < 0 else 0)]) + mag


def w_real(x: float) -> bytes:
    if x == 0:
        return w_int(0) + w_int(0)
    m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= |m| < 1
    mantissa = int(m * 2**53)
    return w_int(mantissa) + w_int(e - 53)


def w_str(s: str) -> bytes:
    return w_int(len(s)) + s.encode("ascii")


def w_tensor(a: np.ndarray) -> bytes:
    dims = a.shape if a.ndim == 4 else (a.size, 1, 1, 1)
    return w_int(2) + b"".join(w_int(d) for d in dims) + np.asarray(a, dtype="<f4").tobytes()


def w_alias(*dims: int) -> bytes:
    return w_int(1) + b"".join(w_int(d) for d in dims)


def w_state(bottom: bool) -> bytes:
    empty = w_tensor(np.zeros((0, 0, 0, 0), dtype=np.float32))
    return b"110" + empty * 3 + (w_int(1) if bottom else b"")


def write_anet(values: dict[int, np.ndarray], *, extra: bytes = b"", bad_relu_at: int | None = None) -> bytes:
    """A whole anet_type stream; ``values[i]`` is the params tensor of bottom-up layer i."""
    top = anet_layers()
    out = w_int(1) + w_str("loss_metric_2") + w_real(0.04) + w_real(0.6)
    for i, layer in enumerate(top):
        out += w_int(1 if layer.kind in ("tag", "skip") else (3 if i == len(top) - 1 else 2))
    out += w_str("input_rgb_image_sized") + w_real(122.782) + w_real(117.001) + w_real(104.298) + w_int(150) + w_int(150)
    channels = 3
    for i, layer in enumerate(reversed(top)):
        k = layer.kind
        if k in ("tag", "skip"):
            continue
        if k == "con":
            n, win = layer.num_outputs, layer.window
            params = values[i]
            out += (
                w_str("con_4")
                + w_tensor(params)
                + b"".join(w_int(v) for v in (n, win, win, layer.stride, layer.stride, layer.padding, layer.padding))
            )
            out += w_alias(n, channels, win, win) + w_alias(1, n, 1, 1) + w_real(1) + w_real(1) + w_real(1) + w_real(0)
            channels = n
        elif k == "affine":
            out += w_str("affine_") + w_tensor(values[i]) + w_alias(1, channels, 1, 1) + w_alias(1, channels, 1, 1) + w_int(0)
        elif k == "relu":
            out += w_str("relu_" if i != bad_relu_at else "relu2_")
        elif k == "add_prev":
            out += w_str("add_prev_")
        elif k in ("max_pool", "avg_pool", "avg_pool_all"):
            name = "max_pool_2" if k == "max_pool" else "avg_pool_2"
            dims = (0, 0, 1, 1, 0, 0) if k == "avg_pool_all" else (layer.window, layer.window, layer.stride, layer.stride, 0, 0)
            out += w_str(name) + b"".join(w_int(v) for v in dims)
        elif k == "fc":
            out += w_str("fc_2") + w_int(128) + w_int(channels) + w_tensor(values[i]) + w_alias(channels, 128, 1, 1) + w_alias(0, 0, 0, 0)
            out += w_int(1) + w_real(1) + w_real(1) + w_real(1) + w_real(0)
        out += w_state(bottom=i == 0)
    return out + extra


def anet_values() -> dict[int, np.ndarray]:
    """Params for every weighted layer: each value encodes (layer index, position) so a value
    read into the wrong layer or the wrong place is caught."""
    values: dict[int, np.ndarray] = {}
    channels = 3
    for i, layer in enumerate(reversed(anet_layers())):
        if layer.kind == "con":
            size = layer.num_outputs * channels * layer.window**2 + layer.num_outputs
            channels = layer.num_outputs
        elif layer.kind == "affine":
            size = 2 * channels
        elif layer.kind == "fc":
            size = channels * 128
        else:
            continue
        values[i] = (i * 1000.0 + np.arange(size, dtype=np.float32) % 997).astype(np.float32)
    return values


# --- the primitives ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 2, 127, 128, 255, 256, 4736, -1, -28, 2**40 + 3, -(2**62)])
def test_integers_round_trip(value: int) -> None:
    assert DlibStream(w_int(value)).integer() == value


def test_dlib_bytes_seen_in_the_real_file_decode_as_documented() -> None:
    # From dlib_face_recognition_resnet_model_v1.dat: the loss margin 0.04 and the input's red mean.
    assert DlibStream(bytes.fromhex("030ad7a3811c")).real() == pytest.approx(0.04, abs=1e-9)
    assert DlibStream(bytes.fromhex("036290f58111")).real() == pytest.approx(122.782, abs=1e-4)
    assert DlibStream(bytes.fromhex("010d") + b"loss_metric_2").string() == "loss_metric_2"


@pytest.mark.parametrize("x", [0.0, 1.0, -2.5, 0.04, 122.782, 1e-30])
def test_reals_round_trip(x: float) -> None:
    assert DlibStream(w_real(x)).real() == pytest.approx(x, rel=1e-15)


def test_strings_bools_tensors_and_aliases() -> None:
    a = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    s = DlibStream(w_str("con_4") + b"10" + w_tensor(a) + w_alias(32, 3, 7, 7))
    assert s.string() == "con_4"
    assert (s.boolean(), s.boolean()) == (True, False)
    np.testing.assert_array_equal(s.tensor(), a)
    assert s.alias() == (32, 3, 7, 7)
    assert s.at_end()


@pytest.mark.parametrize(
    ("read", "data", "message"),
    [
        ("integer", b"", "wanted 1 bytes"),
        ("integer", bytes([0x09]) + b"\0" * 9, "bad integer header"),
        ("integer", bytes([0x04, 1, 2]), "wanted 4 bytes"),
        ("string", w_int(5) + b"ab", "wanted 5 bytes"),
        ("boolean", b"x", "bad bool"),
        ("tensor", w_int(3) + w_int(0) * 4, "tensor version"),
        ("tensor", w_int(2) + w_int(1) * 3 + w_int(3) + b"\0" * 8, "wanted 12 bytes"),
        ("alias", w_int(2) + w_int(1) * 4, "alias_tensor version"),
    ],
)
def test_truncated_or_malformed_values_are_refused(read: str, data: bytes, message: str) -> None:
    with pytest.raises(DlibFormatError, match=message):
        getattr(DlibStream(data), read)()


# --- the network ------------------------------------------------------------------------------


def test_a_hand_made_anet_stream_puts_every_weight_in_its_layer() -> None:
    values = anet_values()
    net = parse_network(write_anet(values))
    assert net.loss == "loss_metric_2"
    assert net.input.size == (150, 150)
    assert net.input.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-9)
    convs = [layer for layer in net.layers if layer.kind == "con"]
    assert len(convs) == 29  # dlib-models README: 29 conv layers
    first = net.layers[0]
    assert first.kind == "con" and first.weights["filters"].shape == (32, 3, 7, 7)
    np.testing.assert_array_equal(first.weights["filters"].reshape(-1), values[0][: 32 * 3 * 49])
    np.testing.assert_array_equal(first.weights["biases"], values[0][32 * 3 * 49 :])
    affine = net.layers[1]
    np.testing.assert_array_equal(affine.weights["gamma"], values[1][:32])
    np.testing.assert_array_equal(affine.weights["beta"], values[1][32:])
    fc = net.layers[-1]
    assert fc.kind == "fc" and fc.weights["matrix"].shape == (256, 128)
    np.testing.assert_array_equal(fc.weights["matrix"].reshape(-1), values[len(net.layers) - 1])
    # Downsampling convolutions (stride 2) have no padding, the others half the window.
    assert {(c.window, c.stride, c.padding) for c in convs} == {(7, 2, 0), (3, 2, 0), (3, 1, 1)}


def test_a_stream_of_another_shape_is_refused_not_half_read() -> None:
    values = anet_values()
    with pytest.raises(DlibFormatError, match="bytes left after the network"):
        parse_network(write_anet(values, extra=b"\0"))
    with pytest.raises(DlibFormatError, match="relu2_"):
        parse_network(write_anet(values, bad_relu_at=2))
    data = write_anet(values)
    with pytest.raises(DlibFormatError):
        parse_network(data[: len(data) // 2])
    # A different first convolution (64 filters instead of 32) is named, not mis-sliced.
    i = data.index(b"con_4")
    tail = data[i + 5 :]
    params_end = len(w_tensor(values[0]))
    bad = data[: i + 5] + tail[:params_end] + w_int(64) + tail[params_end + len(w_int(32)) :]
    with pytest.raises(DlibFormatError, match="num_filters is 64"):
        parse_network(bad)


def test_float_layout_is_little_endian_ieee() -> None:
    raw = w_int(2) + w_int(1) * 4 + struct.pack("<f", 1.5)
    assert DlibStream(raw).tensor().item() == 1.5
