"""A graph model built wrongly is a clear error at once: at the layer call where the shapes do not fit, else
at nn.Model(...), naming the layers, inputs or outputs concerned and what to do."""

import re

import numpy as np
import pytest

import neuronet as nn
from neuronet.checks import ArgumentError

L = nn.layers


def refused(make, *patterns):
    """The ArgumentError ``make()`` raises, its message matching every one of ``patterns``."""
    with pytest.raises(ArgumentError) as caught:
        make()
    for pattern in patterns:
        assert re.search(pattern, str(caught.value)), (pattern, str(caught.value))
    return str(caught.value)


# -- at nn.Model(...) --------------------------------------------------------------------------------
def test_a_node_of_another_models_graph_names_the_layer_that_reads_it():
    x, other = nn.Input(shape=(5,)), nn.Input(shape=(5,))
    refused(
        lambda: nn.Model(x, L.Add()([x, other])),
        r"layer 'add' \(Add\) reads nn.Input 'input' of shape \(5,\), which is not among the model's inputs",
        "inputs=",
    )


def test_a_node_of_a_model_built_before_is_refused_in_the_next():
    a = nn.Input(shape=(4,))
    h = L.Dense(4, 3)(a)
    nn.Model(a, h)
    b = nn.Input(shape=(3,))
    refused(lambda: nn.Model(b, L.Dense(3, 2)(h)), r"layer 'dense' \(Dense\) reads nn.Input .* of shape \(4,\)")


def test_an_input_that_reaches_no_output_is_named_with_its_shape():
    a, b = nn.Input(shape=(5,)), nn.Input(shape=(2,), name="unused")
    refused(lambda: nn.Model([a, b], L.Dense(3)(a)), r"input 1 \(nn.Input 'unused' of shape \(2,\)\) reaches none")


def test_an_output_that_is_an_input_is_named():
    x = nn.Input(shape=(4,))
    refused(
        lambda: nn.Model(x, [L.Dense(2)(x), x]),
        r"output 1 \(nn.Input 'input' of shape \(4,\)\) is an input itself",
        r"layer\(x\)",
    )


def test_an_input_that_is_a_layers_output_is_named():
    x = nn.Input(shape=(4,))
    h = L.Dense(3)(x)
    refused(
        lambda: nn.Model([x, h], L.Dense(2)(h)), r"input 1 \(the output of layer 'dense' \(Dense\), of shape \(3,\)\)"
    )


def test_the_same_input_given_twice_names_both_places():
    x, y = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    refused(lambda: nn.Model([x, y, x], L.Add()([x, y])), r"inputs 0 and 2 are the same nn.Input", "once")


def test_inputs_and_outputs_that_are_not_nodes():
    x = nn.Input(shape=(4,))
    y = L.Dense(2)(x)
    refused(lambda: nn.Model(np.zeros((2, 4)), y), r"inputs must be nodes .* got \['ndarray'\]")
    refused(lambda: nn.Model(x, "y"), r"outputs must be nodes .* got \['str'\]")
    refused(lambda: nn.Model(x, [y, 3]), r"outputs must be nodes .* got \['int'\]")
    refused(lambda: nn.Model(x, []), r"outputs must be nodes .* got none")
    refused(lambda: nn.Model([], y), r"inputs must be nodes .* got none")


def test_a_cycle_names_the_layers_around_it_in_the_order_values_flow():
    """The API cannot make a cycle (a node's parents exist before it); one forged by rewriting parents is found."""
    x = nn.Input(shape=(4,))
    h1 = L.Dense(4, 4)(x)
    h2 = L.LeakyReLU()(h1)
    out = L.Dense(4, 2, activation="softmax")(h2)
    h1.parents = (h2,)  # the Dense now reads the LeakyReLU's output, which reads the Dense's
    message = refused(
        lambda: nn.Model(x, out),
        r"cycle: layer 'dense' \(Dense\) -> layer 'leaky_relu' \(LeakyReLU\) -> back to the first",
        "feed itself",
    )
    assert message.count("layer 'dense'") == 1  # the head that reads the cycle is not on it


def test_a_layer_fed_its_own_output_is_a_cycle_of_one():
    x = nn.Input(shape=(3,))
    h = L.Dense(3, 3)(x)
    h.parents = (h,)
    refused(lambda: nn.Model(x, h), r"cycle: layer 'dense' \(Dense\) -> back to the first")


@pytest.mark.parametrize("dtype", ["str", "bool", "complex64", "", 3, np.int64(3), np.float32(0.5), [("a", "f4")]])
def test_an_input_dtype_that_is_no_number_type_is_refused(dtype):
    refused(lambda: nn.Input(shape=(3,), dtype=dtype), r"Input dtype must be a float or integer type")


@pytest.mark.parametrize("dtype, kept", [(None, None), ("int64", "int64"), (np.float32, "float32"), ("uint8", "uint8")])
def test_an_input_dtype_that_is_a_number_type_is_kept(dtype, kept):
    assert nn.Input(shape=(3,), dtype=dtype).dtype == kept


# -- at the layer call -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: L.Dense(4, 3)(nn.Input(shape=(5,))),
            r"layer 'dense' \(Dense\) does not fit its input of shape \(5,\): .*n_inputs 4",
        ),
        (
            lambda: L.Add()([nn.Input(shape=(4,)), nn.Input(shape=(5,))]),
            r"layer 'add' \(Add\) does not fit its input of shape \[\(4,\), \(5,\)\]: .*axis 1 is 5, not 4",
        ),
        (
            lambda: L.Concatenate(axis=1)([nn.Input(shape=(4, 3)), nn.Input(shape=(5, 2))]),
            r"layer 'concatenate' \(Concatenate\) does not fit .*axis 2 is 2, not 3",
        ),
        (
            lambda: L.Concatenate()([nn.Input(shape=(4, 3)), nn.Input(shape=(5,))]),
            r"'concatenate' .*differ in their number of axes",
        ),
        (lambda: L.Concatenate(axis=3)([nn.Input(shape=(4,)), nn.Input(shape=(4,))]), r"axis 3 is out of range"),
        (lambda: L.Subtract()([nn.Input(shape=(4,))] * 3), r"'subtract' .*exactly 2 inputs, got 3"),
        (lambda: L.Add()(nn.Input(shape=(4,))), r"layer 'add' \(Add\) joins several nodes: call it on a list"),
        (lambda: L.Add()([nn.Input(shape=(4,))]), r"layer 'add' \(Add\) .*joins 2 or more inputs, got 1"),
        (
            lambda: L.Dense(3)([nn.Input(shape=(4,)), nn.Input(shape=(4,))]),
            r"layer 'dense' \(Dense\) takes one node, got a list of 2: join them first",
        ),
        (lambda: L.Add()([nn.Input(shape=(4,)), 3]), r"layer 'add' \(Add\) was called on .* \['int'\]"),
        (lambda: L.Dense(3)(nn.Input(shape=(None,))), r"takes its n_inputs from the last axis .* None"),
        (
            lambda: L.Dense(3, 2)(L.Conv2D(1, 2, 3)(nn.Input(shape=(6, 6, 1)))),
            r"'dense' .*shape \(4, 4, 2\): .*n_inputs 3",
        ),
    ],
)
def test_shapes_that_do_not_fit_are_refused_at_the_call(call, pattern):
    refused(call, pattern)


def test_a_layer_named_by_its_own_check_is_not_named_twice():
    message = refused(lambda: L.Dense(3)(nn.Input(shape=(None,))), "layer 'dense'")
    assert message.count("layer 'dense' (Dense)") == 1


def test_a_shared_layer_called_on_another_size_names_it():
    x = nn.Input(shape=(4,))
    dense = L.Dense(4)
    h = dense(x)
    refused(lambda: dense(L.Dense(2)(h)), r"layer 'dense' \(Dense\) does not fit its input of shape \(2,\)")


def test_a_graph_that_grows_past_the_limit_names_the_layer_where_it_does():
    x = nn.Input(shape=(3, 3, 1))
    y = x
    for _ in range(8):
        y = L.UpSampling2D(4)(y)
    refused(
        lambda: nn.Model(x, y),
        r"makes 150,994,944 values in a layer \(layer 'up_sampling2d_5' \(UpSampling2D\), "
        r"of shape \(12288, 12288, 1\)\)",
    )


# -- at save ---------------------------------------------------------------------------------------
def test_a_model_saved_before_it_is_built_is_refused_and_writes_nothing(tmp_path):
    model = nn.Sequential([L.Dense(3), L.Dense(2)])
    with pytest.raises(ValueError, match=r"layers \['dense', 'dense_1'\] have no parameters yet.*before saving"):
        model.save(tmp_path / "m.nnet")
    assert not (tmp_path / "m.nnet").exists()


def test_a_merge_layer_in_a_sequential_is_refused_and_points_to_graph_models():
    with pytest.raises(ArgumentError, match=r"Add joins several values.* nn.Input and nn.Model"):
        nn.Sequential([L.Dense(4, 4), L.Add()])
    model = nn.Sequential([L.Dense(4, 4)])
    with pytest.raises(ArgumentError, match=r"Concatenate joins several values"):
        model.add(L.Concatenate())
    assert len(model.layers) == 1
