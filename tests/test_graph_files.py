"""Graph models in model files: exact round trips (residual, two inputs and two outputs with their losses,
weights and metrics, a shared layer, token ids, BatchNormalization's states), and hostile graphs refused as
ModelFileErrors that say what is wrong, before anything large is allocated."""

import tracemalloc

import numpy as np
import pytest

import neuronet as nn
from neuronet import model_file
from neuronet.saving import read_model_file, write_model_file

L = nn.layers


def round_trip(model, tmp_path):
    path = tmp_path / "m.nnet"
    model.save(path)
    loaded = nn.load_model(path)
    assert type(loaded) is nn.Model and loaded.get_config() == model.get_config()
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    return loaded


def residual():
    x = nn.Input(shape=(5,))
    h = L.Dense(8, activation="relu")(x)
    y = L.Add()([x, L.Dense(5)(h)])
    return nn.Model(x, L.Dense(3, activation="softmax")(y))


def test_a_residual_model_predicts_the_same_after_load(tmp_path):
    model = residual()
    model.compile(metrics=["accuracy"])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 5)), rng.integers(0, 3, 32)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    loaded = round_trip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.evaluate(X, y) == model.evaluate(X, y)
    assert not loaded.several_inputs and not loaded.several_outputs
    loaded.fit(X, y, epochs=1, verbose=0)  # it trains on


def test_two_inputs_and_two_outputs_keep_their_losses_weights_and_metrics(tmp_path):
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(3,), name="table")
    h = L.Concatenate()([L.Dense(6, activation="tanh")(a), b])
    model = nn.Model([a, b], [L.Dense(1)(h), L.Dense(3, activation="softmax")(h)])
    model.compile(loss=["mse", "categorical_crossentropy"], loss_weights=[0.5, 2.0], metrics=[["mae"], ["accuracy"]])
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((24, 4)), rng.standard_normal((24, 3))]
    ys = [rng.standard_normal((24, 1)), rng.integers(0, 3, 24)]
    model.fit(xs, ys, epochs=2, batch_size=8, verbose=0)
    loaded = round_trip(model, tmp_path)
    assert loaded.several_inputs and loaded.several_outputs
    assert [type(loss).__name__ for loss in loaded.losses] == ["MeanSquaredError", "CategoricalCrossentropy"]
    assert loaded.loss_weights == [0.5, 2.0] and loaded.metric_specs == [["mae"], ["accuracy"]]
    assert [node.name for node in loaded.graph.inputs] == ["input", "table"]
    for mine, theirs in zip(loaded.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(mine, theirs)
    assert loaded.evaluate(xs, ys) == model.evaluate(xs, ys)


def test_a_shared_layer_is_loaded_once_and_called_twice(tmp_path):
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    encoder = L.Dense(5, activation="tanh")
    model = nn.Model([a, b], L.Dense(1)(L.Multiply()([encoder(a), encoder(b)])))
    model.compile(loss="mse")
    loaded = round_trip(model, tmp_path)
    shared = loaded.layers[0]
    assert [node.layer for node in loaded.graph.nodes if not node.is_input].count(shared) == 2
    assert len(loaded.parameters()) == len(model.parameters()) == 4
    xs = [np.random.default_rng(2).standard_normal((6, 4)) for _ in range(2)]
    np.testing.assert_array_equal(loaded.predict(xs), model.predict(xs))


def test_a_model_of_token_ids_keeps_its_int64_input(tmp_path):
    ids = nn.Input(shape=(6,), dtype="int64")
    h = L.GlobalAvgPool1D()(L.Embedding(20, 4, padding_id=0)(ids))
    model = nn.Model(ids, L.Dense(2, activation="softmax")(h))
    model.compile()
    x = np.random.default_rng(3).integers(0, 20, (10, 6))
    model.fit(x, x[:, 0] % 2, epochs=1, verbose=0)
    loaded = round_trip(model, tmp_path)
    assert loaded.graph.inputs[0].dtype == "int64"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_batch_normalization_states_come_back(tmp_path):
    x = nn.Input(shape=(3,))
    h = L.BatchNormalization()(L.Dense(4)(x))
    model = nn.Model(x, L.Dense(1)(L.Add()([h, L.Dense(4)(x)])))
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3)) * 3 + 1
    model.fit(X, rng.standard_normal((40, 1)), epochs=2, batch_size=10, verbose=0)
    norm = model.layers[1]
    assert not np.allclose(norm.states()[1], 1.0)  # the running variance moved: a state worth saving
    loaded = round_trip(model, tmp_path)
    for mine, theirs in zip(loaded.layers[1].states(), norm.states()):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_graph_file_is_no_sequential_nor_gan_network(tmp_path):
    residual().save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    with pytest.raises(nn.ModelFileError, match="holds a graph model where a chain of layers"):
        model_file.restore(description, tensors, "m.nnet", nn.Sequential)


# -- hostile graphs -----------------------------------------------------------------------------------
# the residual model's graph on file: node 0 the input; calls 0-3 make nodes 1-4 (dense, dense_1, add, dense_2)
def forged(tmp_path, change, model=None):
    """The residual model's file with ``change(description["model"])`` applied, its checksums made right again
    (a forger can compute them): only the content can be refused."""
    (model or residual()).save(tmp_path / "m.nnet")
    description, tensors = read_model_file(tmp_path / "m.nnet")
    change(description["model"])
    write_model_file(tmp_path / "m.nnet", {"model": description["model"], "metadata": {}}, tensors)
    return tmp_path / "m.nnet"


def refused_small(path, pattern):
    """``nn.load_model(path)`` raises a ModelFileError matching ``pattern`` and allocates under 10 MiB."""
    tracemalloc.start()
    try:
        with pytest.raises(nn.ModelFileError, match=pattern):
            nn.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def set_call(j, key, value):
    def change(described):
        described["graph"]["calls"][j][key] = value

    return change


@pytest.mark.parametrize(
    "change, pattern",
    [
        (set_call(0, "inputs", [3]), r"call 0 of the graph \(node 1\) names node 3; it may name only a node made "),
        (set_call(1, "inputs", [2]), r"call 1 of the graph \(node 2\) names node 2; .* 0 to 1"),  # itself
        (set_call(2, "inputs", [0, 99]), r"call 2 .* names node 99"),
        (set_call(0, "inputs", [-1]), r"names node -1"),
        (set_call(0, "inputs", [True]), r"names node True"),
        (set_call(0, "inputs", ["0"]), r"names node '0'"),
        (set_call(0, "inputs", [0.0]), r"names node 0.0"),
        (set_call(0, "inputs", []), r"call 0 .* names no node to call layer 0 on"),
        (set_call(0, "inputs", 0), r"call 0 .* 'inputs' must be a list"),
        (set_call(3, "layer", 4), r"call 3 .* names layer 4; there are layers 0 to 3"),
        (set_call(3, "layer", -1), r"names layer -1"),
        (set_call(3, "layer", False), r"names layer False"),
        (set_call(3, "layer", "3"), r"'layer' must be a int"),
        (set_call(2, "inputs", [2]), r"layer 'add' \(Add\) .*joins 2 or more inputs, got 1"),  # a merge of one
        (set_call(0, "inputs", [0, 0]), r"call 0 .* calls layer 0 \(Dense\) on 2 nodes, not 1"),
        (
            lambda d: d["layers"].append({"class": "Dropout", "name": "dropout", "config": {"rate": 0.5}}),
            r"no output is computed by layers 4 \('dropout'\)",
        ),
        (
            lambda d: d["graph"]["calls"].append({"layer": 0, "inputs": [0]}),  # a second call of dense, unused
            r"call 4 of the graph \(node 5\) feeds none of its outputs",
        ),
        (lambda d: d["graph"].update(outputs=[3]), r"call 3 of the graph \(node 4\) feeds none of its outputs"),
        (lambda d: d["graph"].update(outputs=[]), r"needs an input and an output; it has 1 inputs, 0 outputs"),
        (lambda d: d["graph"].update(inputs=[]), r"needs an input and an output; it has 0 inputs, 1 outputs"),
        (lambda d: d["graph"].update(outputs=[5]), r"the graph's outputs names node 5; .* 0 to 4"),
        (lambda d: d["graph"].update(outputs=[4, 4]), r"'several_outputs' is false, but it has 2 of them"),
        (lambda d: d["graph"].update(several_inputs="no"), r"'several_inputs' must be true or false, got 'no'"),
        (lambda d: d["graph"].update(several_outputs=None), r"'several_outputs' must be true or false, got None"),
        (lambda d: d["graph"]["inputs"][0].update(dtype="str"), r"Input dtype must be a float or integer type"),
        (lambda d: d["graph"]["inputs"][0].update(dtype="bool"), r"Input dtype .* got 'bool'"),
        (lambda d: d["graph"]["inputs"][0].update(dtype={"a": 1}), r"Input dtype .* got \{'a': 1\}"),
        (lambda d: d["graph"]["inputs"][0].update(shape=[10**9]), r"input 0's shape \[1000000000\] holds more than"),
        (lambda d: d["graph"]["inputs"][0].update(shape=[31623, 31623]), r"shape \[31623, 31623\] holds more than"),
        (lambda d: d["graph"]["inputs"][0].update(shape=[]), r"input 0's shape must have 1 to 16 axes"),
        (lambda d: d["graph"]["inputs"][0].update(shape=[6]), r"'dense' \(Dense\) does not fit its input of shape"),
        (lambda d: d["layers"][0]["config"].update(n_inputs=None), r"layer 0 \('dense'\) lacks its input size"),
        (lambda d: d["layers"][0]["config"].pop("n_inputs"), r"layer 0 \('dense'\) lacks its input size"),
        (
            lambda d: d["graph"]["calls"][2].update(inputs=[0] * 50_000 + [2]),
            r"name 50,005 nodes in all; neuronet loads graphs of at most 40,000",
        ),
        # without its graph the file reads as a chain of its layers, where a merge layer has no place
        (lambda d: d.pop("graph"), r"Add joins several values, but each layer of a Sequential reads the one"),
    ],
)
def test_a_hostile_graph_is_refused_before_anything_large_is_allocated(tmp_path, change, pattern):
    refused_small(forged(tmp_path, change), pattern)


def test_a_chain_of_upsamplings_past_the_sample_limit_is_refused_before_a_sample_is_made(tmp_path):
    """3x3 grown 4x eight times is 3 * 4**8 a side, 1.3 TB a sample in float32: refused where it passes the limit."""
    x = nn.Input(shape=(3, 3, 1))
    model = nn.Model(x, L.UpSampling2D(2)(L.UpSampling2D(2)(x)))

    def larger(described):
        for spec in described["layers"]:
            spec["config"]["size"] = [4, 4]
        described["layers"] += [
            {"class": "UpSampling2D", "name": f"up_sampling2d_{k}", "config": {"size": [4, 4]}} for k in range(2, 8)
        ]
        described["graph"]["calls"] = [{"layer": k, "inputs": [k]} for k in range(8)]
        described["graph"]["outputs"] = [8]

    refused_small(forged(tmp_path, larger, model), r"150,994,944 values in a layer \(layer 'up_sampling2d_5'")


def test_a_million_calls_are_refused_by_count_before_a_node_is_made():
    """The description itself, parsed: 10**6 calls are counted before any input or layer's node is made."""
    model = residual()
    described = {"model": model.get_config(), "metadata": {}}
    described["model"]["graph"]["calls"] = [{"layer": 2, "inputs": [0, 0]}] * 10**6
    described["model"]["graph"]["outputs"] = [10**6]
    shapes = {key: array.shape for key, array in model.named_arrays().items()}  # (the file's tensors)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"1,000,001 nodes \(1 inputs, 1,000,000 calls of layers\); .* 10,000"):
            model_file.build(described, shapes, nn.Sequential, nn.Model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # the four small layers, no node


def test_a_file_of_a_million_calls_is_refused_before_its_description_is_parsed(tmp_path):
    def million(described):
        described["graph"]["calls"] = [{"layer": 2, "inputs": [0, 0]}] * 10**6
        described["graph"]["outputs"] = [10**6]

    refused_small(forged(tmp_path, million), r"header declares 36,.* bytes.*at most 16,777,216")


def test_a_file_of_more_calls_than_a_graph_may_have_is_refused_by_count(tmp_path):
    def many(described):
        count = model_file.MAX_NODES
        described["graph"]["calls"] = [{"layer": 2, "inputs": [0, 0]}] * count
        described["graph"]["outputs"] = [count]

    with pytest.raises(nn.ModelFileError, match=r"10,001 nodes .*at most 10,000"):
        nn.load_model(forged(tmp_path, many))
