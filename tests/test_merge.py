"""Merge layers (Add, Subtract, Multiply, Average, Concatenate): gradients against finite differences and
PyTorch in float64, shapes with free axes, masks, errors that name the layer, and the ops seam."""

import functools

import numpy as np
import pytest
from strict import StrictArray, StrictOps

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error
from neuronet.layers.base import deserialize, serialize
from neuronet.nodes import Input

L = nn.layers


def inputs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


# (layer, the shapes of its inputs): every merge, with two inputs and more, Concatenate on several axes
CASES = [
    (L.Add, [(3, 4), (3, 4)]),
    (L.Add, [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    (L.Subtract, [(3, 4), (3, 4)]),
    (L.Multiply, [(3, 4), (3, 4)]),
    (L.Multiply, [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    (L.Average, [(3, 4), (3, 4)]),
    (L.Average, [(2, 5), (2, 5), (2, 5), (2, 5)]),
    (lambda: L.Concatenate(), [(3, 2), (3, 5), (3, 1)]),
    (lambda: L.Concatenate(-1), [(2, 3, 4), (2, 3, 2)]),
    (lambda: L.Concatenate(1), [(2, 3, 4), (2, 5, 4)]),
    (lambda: L.Concatenate(1), [(2, 1, 4), (2, 2, 4), (2, 3, 4)]),
    (lambda: L.Concatenate(2), [(2, 3, 4, 2), (2, 3, 1, 2)]),
]
IDS = [f"{getattr(make, '__name__', 'Concatenate')}-{len(shapes)}-{shapes[-1]}" for make, shapes in CASES]


@pytest.mark.parametrize("make, shapes", CASES, ids=IDS)
def test_gradients_equal_finite_differences(float64, make, shapes):
    layer, xs = make(), inputs(*shapes)
    r = np.random.default_rng(9).standard_normal(layer.forward(xs).shape)

    def loss():
        return float(np.sum(layer.forward(xs) * r))

    layer.forward(xs)
    grads = layer.backward(r)
    assert len(grads) == len(xs)
    for i, (g, x) in enumerate(zip(grads, xs)):
        assert g.shape == x.shape
        assert relative_error(g, numerical_gradient(loss, x)) < 1e-6, f"input {i}"


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def torch_merge(torch, layer):
    """PyTorch's function for ``layer``."""
    return {
        L.Add: lambda ts: functools.reduce(torch.add, ts),
        L.Subtract: lambda ts: torch.sub(*ts),
        L.Multiply: lambda ts: functools.reduce(torch.mul, ts),
        L.Average: lambda ts: torch.mean(torch.stack(ts), dim=0),
        L.Concatenate: lambda ts: torch.cat(ts, dim=getattr(layer, "axis", None)),
    }[type(layer)]


@pytest.mark.parametrize("make, shapes", CASES, ids=IDS)
def test_forward_and_every_input_gradient_equal_pytorch(float64, torch, make, shapes):
    layer, xs = make(), inputs(*shapes, seed=3)
    if isinstance(layer, L.Multiply):
        xs[0].reshape(-1)[::3] = 0.0  # a product with zeros: the gradients must not divide y by x_i
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    y_torch = torch_merge(torch, layer)(ts)
    dy = np.random.default_rng(4).standard_normal(tuple(y_torch.shape))
    y_torch.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.forward(xs), y_torch.detach().numpy(), rtol=1e-8, atol=1e-8)
    for ours, t in zip(layer.backward(dy), ts, strict=True):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("make, shapes", CASES, ids=IDS)
def test_float32_stays_float32_and_inputs_are_left_alone(make, shapes):
    layer, xs = make(), [x.astype(np.float32) for x in inputs(*shapes)]
    before = [x.copy() for x in xs]
    y = layer.forward(xs)
    grads = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    for x, kept in zip(xs, before):
        np.testing.assert_array_equal(x, kept)


@pytest.mark.parametrize("make, shapes", CASES, ids=IDS)
def test_computes_the_same_through_strict_arrays(float64, make, shapes):
    """Every array goes through the layer's ops (a device array refuses NumPy's functions)."""
    xs, dy_shape = inputs(*shapes), make().forward(inputs(*shapes)).shape
    dy = np.random.default_rng(1).standard_normal(dy_shape)
    masks = [np.random.default_rng(i).random((shapes[i][0], shapes[i][1])) > 0.3 for i in range(len(shapes))]
    results = []
    for ops in (nn.ops.NumpyOps(), StrictOps()):
        layer = make()
        layer.use_ops(ops)
        y = layer.forward([ops.asarray(x) for x in xs])
        grads = layer.backward(ops.asarray(dy))
        mask = layer.output_mask([None, *(ops.asarray(m) for m in masks[1:])])
        assert isinstance(y, StrictArray) == isinstance(ops, StrictOps)
        results.append([ops.to_numpy(a) for a in (y, *grads, mask)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_add_gives_dy_itself_for_every_input_and_concatenate_views_of_it():
    """No copies: the graph model adds gradients out of place, so one array may serve every input."""
    a, b = inputs((2, 3), (2, 3))
    dy = np.ones((2, 3))
    add = L.Add()
    add.forward([a, b])
    assert all(g is dy for g in add.backward(dy))
    cat = L.Concatenate()
    cat.forward([a, b])
    dy = np.arange(12.0).reshape(2, 6)
    da, db = cat.backward(dy)
    assert np.shares_memory(da, dy) and np.shares_memory(db, dy)
    np.testing.assert_array_equal(np.concatenate([da, db], axis=-1), dy)


def test_called_on_arrays_and_on_nodes():
    a, b = inputs((2, 3), (2, 3))
    np.testing.assert_allclose(L.Subtract()([a, b]), a - b)
    x, y = Input((None, 4)), Input((5, None))
    node = L.Add()([x, y])
    assert node.shape == (None, 5, 4) and node.parents == (x, y)
    assert L.Concatenate(1)([x, y]).shape == (None, None, 4)


@pytest.mark.parametrize(
    "layer, shapes, expected",
    [
        (L.Add(), [(None, None, 4), (None, 7, None)], (None, 7, 4)),
        (L.Multiply(), [(None, 3), (None, 3), (None, None)], (None, 3)),
        (L.Average(), [(None, None), (None, None)], (None, None)),
        (L.Subtract(), [(8, 2), (None, 2)], (8, 2)),
        (L.Concatenate(), [(None, 5, 3), (None, None, 2)], (None, 5, 5)),
        (L.Concatenate(1), [(None, None, 4), (None, 3, 4)], (None, None, 4)),
        (L.Concatenate(1), [(None, 2, None), (None, 3, 4)], (None, 5, 4)),
        (L.Concatenate(-2), [(None, 2, 4), (None, 3, 4), (None, 1, None)], (None, 6, 4)),
    ],
)
def test_output_shape_with_free_axes(layer, shapes, expected):
    layer.check_input_shape(shapes)
    assert layer.output_shape(shapes) == expected


@pytest.mark.parametrize(
    "layer, shapes, match",
    [
        (L.Add(), [(None, 4), (None, 3)], r"input 1 has shape \('batch', 3\) where input 0 has \('batch', 4\)"),
        # input 0 leaves axis 1 free: input 2 is compared with input 1, which fixed it
        (L.Multiply(), [(None, None), (None, 3), (None, 4)], r"input 2 .* where input 1 has .*axis 1 is 4, not 3"),
        (L.Average(), [(None, 4), (None, 2, 4)], "input 1 .* differ in their number of axes"),
        (L.Concatenate(), [(None, 2, 4), (None, 3, 4)], "except on the axis .* input 1 .* axis 1 is 3, not 2"),
        (L.Concatenate(1), [(None, 2, 4), (None, 3, 5)], "input 1 .* axis 2 is 5, not 4"),
        (L.Concatenate(3), [(None, 2, 4), (None, 2, 4)], r"axis 3 is out of range .* 1\.\.2 or -2\.\.-1"),
        (L.Concatenate(-3), [(None, 2, 4), (None, 2, 4)], "axis -3 is out of range"),
        (L.Concatenate(2), [(None, 4), (None, 4)], "axis 2 is out of range .* give 1 or -1"),
        (L.Concatenate(), [(None,), (None,)], "no axis but the batch"),
        (L.Add(), [(None, 4)], "joins 2 or more inputs, got 1"),
        (L.Add(), [], "joins 2 or more inputs, got 0"),
        (L.Subtract(), [(None, 4)] * 3, "exactly 2 inputs, got 3"),
        (L.Add(), (None, 4), "a list of shapes, one for each input"),
    ],
)
def test_check_input_shape_says_which_inputs_do_not_fit(layer, shapes, match):
    with pytest.raises(ValueError, match=match):
        layer.check_input_shape(shapes)


WHO = {
    L.Add: "layer 'add' \\(Add\\)",
    L.Subtract: "layer 'subtract' \\(Subtract\\)",
    L.Multiply: "layer 'multiply' \\(Multiply\\)",
    L.Average: "layer 'average' \\(Average\\)",
    L.Concatenate: "layer 'concatenate' \\(Concatenate\\)",
}


@pytest.mark.parametrize("cls", list(WHO))
def test_forward_refuses_bad_inputs_naming_the_layer(cls):
    a, b = inputs((2, 3), (2, 4))
    layer = cls()
    with pytest.raises(ValueError, match=f"{WHO[cls]} takes a list of arrays, e.g. {cls.__name__}"):
        layer.forward(a)
    with pytest.raises(ValueError, match=f"{WHO[cls]} takes a list of arrays, but input 1 is a list"):
        layer.forward([a, a.tolist()])
    with pytest.raises(ValueError, match=f"{WHO[cls]}: it (joins|takes exactly) 2"):
        layer.forward([a])
    if cls is not L.Concatenate:  # (it joins a (2, 3) and a (2, 4) on their last axis)
        with pytest.raises(ValueError, match=f"{WHO[cls]}: .*input 1 .*axis 1 is 4, not 3"):
            layer.forward([a, b])
    with pytest.raises(ValueError, match=f"{WHO[cls]}: .*axis 0 \\(the batch\\) is 5, not 2"):
        layer.forward([a, np.zeros((5, 3))])


def test_forward_refuses_subtract_of_three_and_concatenate_out_of_range():
    a = np.zeros((2, 3))
    with pytest.raises(ValueError, match=f"{WHO[L.Subtract]}: it takes exactly 2 inputs, got 3"):
        L.Subtract().forward([a, a, a])
    with pytest.raises(ValueError, match=f"{WHO[L.Concatenate]}: axis 2 is out of range"):
        L.Concatenate(2).forward([a, a])


def test_graph_building_refuses_what_does_not_fit_naming_the_layer():
    x, y = Input((4,)), Input((3,))
    with pytest.raises(ValueError, match="layer 'add' \\(Add\\) does not fit .*input 1 has shape"):
        L.Add()([x, y])
    with pytest.raises(ValueError, match="layer 'subtract' \\(Subtract\\) .*exactly 2 inputs, got 3"):
        L.Subtract()([x, x, x])
    with pytest.raises(ValueError, match="layer 'concatenate' \\(Concatenate\\) .*axis 2 is out of range"):
        L.Concatenate(2)([x, y])


@pytest.mark.parametrize("axis", [0, 1.0, "1", True])
def test_concatenate_refuses_a_bad_axis_when_made(axis):
    with pytest.raises(ValueError, match="Concatenate axis"):
        L.Concatenate(axis)


def masks_of(*rows):
    return np.array(rows, dtype=bool)


@pytest.mark.parametrize("make", [L.Add, L.Subtract, L.Multiply, L.Average, lambda: L.Concatenate()])
def test_step_by_step_merges_keep_the_steps_real_in_every_input_with_a_mask(make):
    layer = make()
    layer.forward(inputs((2, 3, 4), (2, 3, 4)))
    m1, m2 = masks_of([1, 1, 0], [1, 0, 0]), masks_of([1, 0, 1], [1, 1, 0])
    np.testing.assert_array_equal(layer.output_mask([m1, m2]), m1 & m2)
    np.testing.assert_array_equal(layer.output_mask([None, m2]), m2)
    assert layer.output_mask([None, None]) is None


def test_step_by_step_mask_of_three_inputs():
    layer = L.Multiply()
    layer.forward(inputs((2, 3, 4), (2, 3, 4), (2, 3, 4)))
    m = [masks_of([1, 1, 1], [1, 1, 0]), masks_of([0, 1, 1], [1, 1, 1]), masks_of([1, 1, 0], [1, 1, 1])]
    np.testing.assert_array_equal(layer.output_mask(m), m[0] & m[1] & m[2])
    assert layer.output_mask([None, m[1], None]) is m[1]


def test_concatenate_on_time_puts_the_masks_one_after_the_other():
    layer = L.Concatenate(axis=1)
    layer.forward(inputs((2, 2, 4), (2, 3, 4)))
    m1, m2 = masks_of([1, 0], [0, 1]), masks_of([1, 1, 0], [1, 0, 0])
    np.testing.assert_array_equal(layer.output_mask([m1, m2]), np.concatenate([m1, m2], axis=1))
    # an input without a mask counts as all real
    np.testing.assert_array_equal(layer.output_mask([None, m2]), masks_of([1, 1, 1, 1, 0], [1, 1, 1, 0, 0]))
    np.testing.assert_array_equal(layer.output_mask([m1, None]), masks_of([1, 0, 1, 1, 1], [0, 1, 1, 1, 1]))
    assert layer.output_mask([None, None]) is None
    assert layer.keeps_mask and layer.takes_list and not layer.takes_mask


def test_registered_for_model_files_with_their_config():
    assert {"Add", "Subtract", "Multiply", "Average", "Concatenate"} <= set(L.LAYERS)
    assert "Merge" not in L.LAYERS
    names = [cls().name for cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Concatenate)]
    assert names == ["add", "subtract", "multiply", "average", "concatenate"]
    layer = deserialize(serialize(L.Concatenate(axis=-2)))
    assert type(layer) is L.Concatenate and layer.axis == -2 and layer.get_config() == {"axis": -2}
    assert L.Add().get_config() == {}
    assert repr(L.Concatenate(1)) == "Concatenate(axis=1)"
