"""A convolution and its pooling layer run as one step (fusion.py): the same numbers as one after the other."""

import inspect

import numpy as np
import pytest

import neuronet as nn
from neuronet import fusion
from neuronet import windows as win
from neuronet.gradcheck import numerical_gradient, relative_error

L = nn.layers
ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "softmax", L.LeakyReLU(0.1), L.LeakyReLU(-0.5),
               "gelu", "selu", L.ELU(-0.5)]  # fmt: skip
PAIRS = [  # (conv, pool, input shape, whether the pool's windows tile the conv's output)
    (lambda a: L.Conv2D(2, 3, 3, padding="same", activation=a), lambda: L.MaxPool2D(2), (2, 6, 8, 2), True),
    (
        lambda a: L.Conv2D(5, 4, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1), activation=a),
        lambda: L.MaxPool2D((2, 3)),
        (2, 6, 11, 5),  # conv output 6 x 6
        True,
    ),
    (lambda a: L.Conv2D(1, 2, 3, padding="same", activation=a), lambda: L.AvgPool2D(2), (3, 4, 6, 1), True),
    (lambda a: L.Conv1D(3, 4, 3, padding="same", activation=a), lambda: L.MaxPool1D(2), (2, 8, 3), True),
    (lambda a: L.Conv1D(4, 2, 2, activation=a), lambda: L.AvgPool1D(3), (2, 10, 4), True),  # output 9
    (lambda a: L.Conv2D(2, 3, 3, padding="same", activation=a), lambda: L.MaxPool2D(2), (2, 7, 7, 2), False),
]


def passes(steps, x, r):
    """Forward on x, backward from dL/dy = r: the output, dL/dx and the conv's parameter gradients."""
    conv = steps[0].conv if isinstance(steps[0], fusion.FusedStep) else steps[0]
    conv.zero_grad()
    y = x
    for step in steps:
        y = step.forward(y, training=True)
    d = r
    for step in reversed(steps):
        d = step.backward(d)
    return y.copy(), d, conv.weights.grad.copy(), conv.biases.grad.copy()


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("make_conv, make_pool, shape, tiles", PAIRS)
def test_a_fused_pair_computes_what_the_two_layers_compute(float64, make_conv, make_pool, shape, tiles, activation):
    rng = np.random.default_rng(3)
    conv, pool = make_conv(activation), make_pool()
    conv.biases.data[:] = rng.standard_normal(conv.biases.data.shape)
    x = rng.standard_normal(shape)
    steps = fusion.plan([conv, pool])
    assert len(steps) == 1 and isinstance(steps[0], fusion.ConvPool)
    fused = passes(steps, x, r := rng.standard_normal(pool.output_shape(conv.output_shape(shape))))
    assert steps[0].tiled == tiles  # phase-ordered only where the windows tile the output
    separate = passes([conv, pool], x, r)
    for a, b in zip(fused, separate):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
@pytest.mark.parametrize(
    "conv, pool, shape",
    [
        (lambda a: L.Conv1D(3, 4, 3, activation=a), L.GlobalMaxPool1D, (3, 9, 3)),
        (lambda a: L.Conv2D(2, 3, 2, stride=(1, 2), padding="same", activation=a), L.GlobalMaxPool2D, (2, 5, 6, 2)),
        (
            lambda a: L.Conv2D(3, 4, (3, 2), stride=2, padding=1, dilation=(1, 2), activation=a),
            L.GlobalMaxPool2D,
            (3, 7, 8, 3),
        ),
        (lambda a: L.Conv1D(2, 16, 3, dilation=2, padding="same", activation=a), L.GlobalMaxPool1D, (2, 4, 2)),
    ],
)
@pytest.mark.parametrize("slice_bytes", [fusion.SLICE_BYTES, 1])  # 1: the maxima found one sample at a time
def test_a_convolution_then_a_global_max_pool(float64, monkeypatch, conv, pool, shape, activation, slice_bytes):
    """Fused unless the activation can decrease (its gradient would not stay at the maxima)."""
    monkeypatch.setattr(fusion, "SLICE_BYTES", slice_bytes)
    rng = np.random.default_rng(6)
    conv, pool = conv(activation), pool()
    conv.biases.data[:] = rng.standard_normal(conv.biases.data.shape)
    x = rng.standard_normal(shape)
    steps = fusion.plan([conv, pool])
    monotone = conv.activation is None or conv.activation.monotone
    assert [type(s) for s in steps] == ([fusion.ConvGlobalMaxPool] if monotone else [type(conv), type(pool)])
    r = rng.standard_normal((shape[0], conv.out_channels))
    for a, b in zip(passes(steps, x, r), passes([conv, pool], x, r)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("make_pool", [L.MaxPool2D, lambda: L.MaxPool2D((2, 3)), L.GlobalMaxPool2D])
def test_on_ties_the_same_window_element_gets_the_gradient(float64, monkeypatch, activation, make_pool):
    """Integer inputs and weights make many equal maxima; fused and separate must route them alike."""
    monkeypatch.setattr(fusion, "SLICE_BYTES", 1)  # global max: the maxima of each sample found apart
    rng = np.random.default_rng(4)
    conv, pool = L.Conv2D(2, 3, 2, padding="same", activation=activation), make_pool()
    conv.weights.data[...] = rng.integers(-1, 2, conv.weights.data.shape)
    x = rng.integers(0, 2, (3, 6, 6, 2)).astype(np.float64)
    r = rng.integers(1, 5, pool.output_shape(conv.output_shape(x.shape))).astype(np.float64)
    steps = fusion.plan([conv, pool])
    fused = passes(steps, x, r)
    assert len(steps) == 1 and (isinstance(pool, L.GlobalMaxPool2D) or steps[0].tiled)
    separate = passes([conv, pool], x, r)
    for a, b in zip(fused, separate):
        np.testing.assert_array_equal(a, b)  # integers: exact whatever the order of the sums


def test_a_model_with_fused_pairs_against_finite_differences(float64):
    rng = np.random.default_rng(5)
    model = nn.Sequential(
        [
            L.Conv2D(1, 3, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Conv2D(3, 2, 3, padding="same", activation="tanh"),
            L.AvgPool2D(2),
            L.Flatten(),
            L.Dense(8, 3),
        ]
    )
    model.compile(loss="mse", optimizer="sgd")
    assert len(fusion.plan(model.layers)) == 4
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.data.shape) * 0.5
    x, y = rng.standard_normal((3, 8, 8, 1)), rng.standard_normal((3, 3))
    model.compute_gradients(x, y)
    for p in model.parameters():
        numeric = numerical_gradient(lambda: model.loss(model.forward(x), y), p.data)
        assert relative_error(p.grad, numeric) < 1e-6
    r = rng.standard_normal((3, 3))
    model.forward(x)
    dx = model.backward(r)
    assert relative_error(dx, numerical_gradient(lambda: np.sum(model.forward(x) * r), x)) < 1e-6


def test_only_a_convolution_then_a_pool_of_its_rank_is_fused():
    conv2d, conv1d = L.Conv2D(1, 2, 3), L.Conv1D(1, 2, 3)
    fused = [
        ([conv2d, L.MaxPool2D(2)], fusion.ConvPool),
        ([conv2d, L.AvgPool2D((2, 3))], fusion.ConvPool),
        ([conv1d, L.MaxPool1D(3)], fusion.ConvPool),
        ([conv1d, L.GlobalMaxPool1D()], fusion.ConvGlobalMaxPool),
        ([conv2d, L.GlobalMaxPool2D()], fusion.ConvGlobalMaxPool),
        ([conv2d, L.ReLU(), L.MaxPool2D(2)], fusion.ConvPool),  # the activation as a layer of its own
        ([conv1d, L.Tanh(), L.AvgPool1D(2)], fusion.ConvPool),
        ([conv1d, L.ReLU(), L.GlobalMaxPool1D()], fusion.ConvGlobalMaxPool),
    ]
    not_fused = [
        [conv2d, L.MaxPool2D(3, stride=2)],  # overlapping windows
        [conv2d, L.MaxPool2D(1)],  # nothing to pool
        [conv1d, L.MaxPool2D(2)],  # a 2-D pool after a 1-D conv (refused later, clearly, by its shape check)
        [conv2d, L.GlobalAvgPool2D()],
        [conv1d, L.GlobalMaxPool2D()],
        [L.Conv1D(1, 2, 3, activation="softmax"), L.GlobalMaxPool1D()],  # its gradient spreads over positions
        [L.MaxPool2D(2), conv2d],
        [L.Conv2D(1, 2, 3, activation="relu"), L.ReLU(), L.MaxPool2D(2)],  # two activations: not one step
        [conv1d, L.Softmax(), L.GlobalMaxPool1D()],
    ]
    for layers, kind in fused:
        steps = fusion.plan(layers)
        assert [type(s) for s in steps] == [kind] and steps[0].layers == layers
    for layers in not_fused:
        assert fusion.plan(layers) == layers


def test_a_text_model_with_a_fused_global_max_pool_against_finite_differences(float64):
    rng = np.random.default_rng(7)
    model = nn.Sequential(
        [L.Embedding(12, 4), L.Conv1D(4, 5, 3, activation="relu"), L.GlobalMaxPool1D(), L.Dense(5, 2)]
    )
    model.compile(loss="mse", optimizer="sgd")
    assert isinstance(fusion.plan(model.layers)[1], fusion.ConvGlobalMaxPool)
    ids, y = rng.integers(0, 12, (4, 9)), rng.standard_normal((4, 2))
    model.compute_gradients(ids, y)
    for p in model.parameters():
        numeric = numerical_gradient(lambda: model.loss(model.forward(ids), y), p.data)
        assert relative_error(p.grad, numeric) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "tanh", L.LeakyReLU(0.2)], ids=str)
@pytest.mark.parametrize(
    "make_conv, make_pool, shape",
    [
        (lambda a: L.Conv2D(2, 3, 3, padding="same", activation=a), lambda: L.MaxPool2D(2), (2, 6, 8, 2)),
        (lambda a: L.Conv2D(1, 2, 3, padding="same", activation=a), lambda: L.AvgPool2D(2), (3, 4, 6, 1)),
        (lambda a: L.Conv1D(3, 4, 2, activation=a), L.GlobalMaxPool1D, (2, 9, 3)),
    ],
)
def test_an_activation_layer_between_is_fused_as_the_inline_one(float64, make_conv, make_pool, shape, activation):
    """Conv2D, ReLU, MaxPool2D (as PyTorch users write it) runs as Conv2D(activation="relu"), MaxPool2D does."""
    rng = np.random.default_rng(8)
    inline, pool = make_conv(activation), make_pool()
    separate = make_conv(None)
    for a, b in zip(separate.parameters(), inline.parameters()):
        b.data[...] = rng.standard_normal(b.data.shape)
        a.data[...] = b.data
    act = nn.layers.activations.get(activation) if isinstance(activation, str) else L.LeakyReLU(0.2)
    x = rng.standard_normal(shape)
    r = rng.standard_normal(pool.output_shape(inline.output_shape(shape)))
    three = fusion.plan([separate, act, pool])
    assert len(three) == 1 and three[0].layers == [separate, act, pool]
    for a, b in zip(passes(three, x, r), passes(fusion.plan([inline, pool]), x, r)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make_conv, shape, phases", [
    (lambda: L.Conv2D(2, 3, 3, padding="same"), (2, 4, 6, 2), (2, 3)),
    (lambda: L.Conv2D(5, 4, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1)), (2, 6, 11, 5), (3, 2)),
    (lambda: L.Conv1D(3, 4, 3, padding="same"), (2, 8, 3), (1, 4)),
])  # fmt: skip
def test_a_convolution_s_pieces_take_its_output_pixels_in_any_order(float64, make_conv, shape, phases):
    """Conv2D knows no phases: fusion.py composes its public pieces (convolve, accumulate_gradients,
    input_gradient) with im2col in phase order, and they give the plain passes' numbers."""
    rng = np.random.default_rng(9)
    conv = make_conv()
    conv.biases.data[:] = rng.standard_normal(conv.biases.data.shape)
    x = rng.standard_normal(shape)
    y = conv.forward(x)
    dy = rng.standard_normal(y.shape)
    conv.zero_grad()
    dx = conv.backward(dy)
    grads = [conv.weights.grad.copy(), conv.biases.grad.copy()]
    assert list(inspect.signature(conv.linear).parameters) == ["x"] and not hasattr(conv, "backward_at")

    cols = conv.ops.im2col(conv.prepare_input(x), conv.kernel, conv.stride, conv.dilation, phases)
    b, out_h, out_w, channels = conv.out_image
    blocks = (*phases, b, out_h // phases[0], out_w // phases[1], channels)
    z = conv.convolve(cols, row=out_w // phases[1]).reshape(blocks)
    in_phases = win.phase_major(y.reshape(conv.out_image), phases)
    np.testing.assert_allclose(z, in_phases, rtol=1e-12, atol=1e-12)
    conv.zero_grad()
    conv.accumulate_gradients(cols, np.ascontiguousarray(win.phase_major(dy.reshape(conv.out_image), phases)))
    for got, want in zip([conv.weights.grad, conv.biases.grad], grads):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.input_gradient(dy.reshape(-1, channels)), dx, rtol=1e-12, atol=1e-12)
