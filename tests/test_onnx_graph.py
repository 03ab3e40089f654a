"""ONNX export of graph models: residual connections, several inputs and outputs, shared layers and every merge
layer, each checked by onnx.checker (full_check) and onnxruntime's outputs equal to model.predict (float32, 1e-5
absolute and 1e-4 relative); padding masks joined where branches meet; a shared layer's weights stored once;
mistakes are clear errors."""

import numpy as np
import pytest

import neuronet as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = nn.layers


def rng(seed=0):
    return np.random.default_rng(seed)


def ids(n=40, steps=9, padding=None, seed=1):
    """Token ids; with ``padding``, sequences of 2..steps real tokens padded (id 0) before or after them."""
    x = rng(seed).integers(1, 30, (n, steps))
    if padding:
        for i, length in enumerate(rng(seed + 1).integers(2, steps + 1, n)):
            if padding == "pre":
                x[i, : steps - length] = 0
            else:
                x[i, length:] = 0
    return x


def residual_mlp():
    x = nn.Input(shape=(6,))
    h = L.Dense(16, activation="relu")(x)
    y = L.Add()([h, L.Dense(16)(L.Dense(16, activation="tanh")(h))])
    return nn.Model(x, L.Dense(3, activation="softmax")(L.ReLU()(y)))


def two_inputs():
    a, b = nn.Input(shape=(4,), name="table"), nn.Input(shape=(3,), name="extra")
    c = L.Concatenate()([L.Dense(5, activation="relu")(a), b])
    return nn.Model([a, b], L.Dense(2)(c))


def two_outputs():
    x = nn.Input(shape=(4,))
    h = L.Dense(6, activation="tanh")(x)
    return nn.Model(x, [L.Dense(1)(h), L.Dense(3, activation="softmax")(h)])


def shared_dense():
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    encoder = L.Dense(5, activation="relu")
    return nn.Model([a, b], L.Dense(2)(L.Subtract()([encoder(a), encoder(b)])))


def resnet():
    """A stem and two residual blocks, y = relu(x + bn(conv(relu(bn(conv(x)))))), then global pooling."""
    x = nn.Input(shape=(8, 8, 1))
    h = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(x)))
    for _ in range(2):
        y = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(h)))
        y = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(y))
        h = L.ReLU()(L.Add()([h, y]))
    return nn.Model(x, L.Dense(3, activation="softmax")(L.GlobalAvgPool2D()(h)))


def merges():
    a, b, c = nn.Input(shape=(5,)), nn.Input(shape=(5,)), nn.Input(shape=(5,))
    d = L.Dense(5, activation="tanh")(c)
    return nn.Model(
        [a, b, c],
        [L.Subtract()([a, d]), L.Multiply()([a, b, d]), L.Average()([a, b, d]), L.Add()([a, b, d]),
         L.Average()([b, d])],
    )  # fmt: skip


def image_concatenations():
    """Concatenate on each axis of an image, after convolutions: the graph's values are channels-last between
    layers, as neuronet's."""
    x = nn.Input(shape=(6, 5, 2))
    p, q = L.Conv2D(3, 3, padding="same", activation="relu")(x), L.Conv2D(2, 1)(x)
    channels = L.Concatenate()([p, q, x])
    rows = L.Concatenate(axis=1)([p, L.UpSampling2D(1)(L.Conv2D(3, 2, padding="same")(x))])
    columns = L.Concatenate(axis=-2)([q, x])
    return nn.Model(x, [L.Conv2D(2, 3)(channels), rows, columns])


GRAPHS = {
    "residual_mlp": (residual_mlp, lambda: [rng().standard_normal((40, 6))]),
    "two_inputs": (two_inputs, lambda: [rng().standard_normal((40, 4)), rng(1).standard_normal((40, 3))]),
    "two_outputs": (two_outputs, lambda: [rng().standard_normal((40, 4))]),
    "shared_dense": (shared_dense, lambda: [rng().standard_normal((40, 4)), rng(1).standard_normal((40, 4))]),
    "resnet": (resnet, lambda: [rng().standard_normal((40, 8, 8, 1))]),
    "merges": (merges, lambda: [rng(k).standard_normal((40, 5)) for k in range(3)]),
    "image_concatenations": (image_concatenations, lambda: [rng().standard_normal((40, 6, 5, 2))]),
}


def given(model, xs):
    return xs if model.several_inputs else xs[0]


def listed(out):
    return out if isinstance(out, list) else [out]


def trained(name):
    """The model after two epochs on random targets (BatchNormalization's running statistics move)."""
    nn.set_seed(0)
    make, data = GRAPHS[name]
    model, xs = make(), data()
    outs = listed(model.predict(given(model, xs)))
    targets = [rng(3 + k).standard_normal(out.shape) for k, out in enumerate(outs)]
    model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.01))
    model.fit(given(model, xs), targets if model.several_outputs else targets[0], epochs=2, batch_size=8, verbose=0)
    return model, xs


def session_of(path):
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def feed(session, xs):
    return {i.name: x if x.dtype.kind == "i" else x.astype(np.float32) for i, x in zip(session.get_inputs(), xs)}


def assert_same(session, model, xs):
    theirs = session.run(None, feed(session, xs))
    ours = listed(model.predict(given(model, xs)))
    assert len(theirs) == len(ours)
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose(t, o, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_onnxruntime_gives_what_predict_gives(name, tmp_path):
    model, xs = trained(name)
    nn.onnx.export(model, tmp_path / "m.onnx")
    session = session_of(tmp_path / "m.onnx")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    assert [i.name for i in inputs] == [node.name for node in model.graph.inputs]
    assert [o.name for o in outputs] == (model.output_names if model.several_outputs else ["output"])
    assert all(i.type == "tensor(float)" for i in inputs)
    assert_same(session, model, xs)


def test_names_and_sizes(tmp_path):
    """Inputs under their nn.Input names ("input", "input_1" unless named), outputs under their layers' for
    several outputs; export returns each input's sizes for several inputs."""
    model, _ = trained("two_inputs")
    assert nn.onnx.export(model, tmp_path / "m.onnx") == [("batch", 4), ("batch", 3)]
    assert [i.name for i in session_of(tmp_path / "m.onnx").get_inputs()] == ["table", "extra"]
    model, _ = trained("two_outputs")
    assert nn.onnx.export(model, tmp_path / "o.onnx") == ("batch", 4)
    outputs = session_of(tmp_path / "o.onnx").get_outputs()
    assert [o.name for o in outputs] == ["dense_1", "dense_2"] == model.output_names
    assert [o.shape for o in outputs] == [["batch", 1], ["batch", 3]]
    model, _ = trained("shared_dense")
    nn.onnx.export(model, tmp_path / "s.onnx")
    assert [i.name for i in session_of(tmp_path / "s.onnx").get_inputs()] == ["input", "input_1"]


def test_a_shared_layer_is_exported_at_each_node_with_its_weights_once(tmp_path):
    """Used twice, the encoder's MatMul runs twice on the same initializer: the file holds its weights once."""
    model, xs = trained("shared_dense")
    proto = nn.onnx.to_onnx(model)
    stored = [onnx.numpy_helper.to_array(w) for w in proto.graph.initializer]
    assert len(stored) == len(model.parameters()) == 4  # the encoder's weights and biases, the head's
    encoder = model.layers[0]
    weights = [w.name for w, a in zip(proto.graph.initializer, stored) if np.array_equal(a, encoder.weights.data)]
    assert len(weights) == 1
    assert sum(weights[0] in node.input for node in proto.graph.node if node.op_type == "MatMul") == 2
    nn.onnx.export(model, tmp_path / "m.onnx")
    assert_same(session_of(tmp_path / "m.onnx"), model, xs)


def test_a_layer_shared_on_its_own_output_and_a_shared_lstm(tmp_path):
    """A Conv2D called on its own output, and an LSTM read by two sequences of their own lengths (free: "time"
    and "time_1")."""
    nn.set_seed(0)
    x = nn.Input(shape=(6, 6, 2))
    conv = L.Conv2D(2, 3, padding="same", activation="relu")
    model = nn.Model(x, L.Subtract()([conv(conv(x)), x]))
    nn.onnx.export(model, tmp_path / "c.onnx")
    assert_same(session_of(tmp_path / "c.onnx"), model, [rng().standard_normal((10, 6, 6, 2))])
    a, b = nn.Input(shape=(4, 3)), nn.Input(shape=(5, 3))
    lstm = L.LSTM(4)
    model = nn.Model([a, b], L.Dense(2)(L.Concatenate()([lstm(a), lstm(b)])))
    assert nn.onnx.export(model, tmp_path / "l.onnx") == [("batch", "time", 3), ("batch", "time_1", 3)]
    session = session_of(tmp_path / "l.onnx")
    assert len(session.get_outputs()[0].shape) == 2
    for steps in ((4, 5), (7, 2)):
        assert_same(session, model, [rng(s).standard_normal((10, s, 3)) for s in steps])


def test_token_ids_and_padding_masks_joined_where_branches_meet(tmp_path):
    """Two padded branches added (a step is real where it is real in both), a residual around a recurrent layer
    (its mask handed on), a masked and an unmasked sequence concatenated in time (the masks one after the
    other): the recurrent layers after them skip the steps predict skips, at any length."""
    nn.set_seed(0)
    a, b = nn.Input(shape=(None,), dtype="int64"), nn.Input(shape=(None,), dtype="int64")
    f = nn.Input(shape=(None, 8))
    e1, e2 = L.Embedding(30, 8, padding_id=0)(a), L.Embedding(30, 8, padding_id=0)(b)
    joined = L.Add()([e1, e2])
    residual = L.Add()([joined, L.LSTM(8, return_sequences=True)(joined)])
    in_time = L.Concatenate(axis=1)([e1, L.Dense(8)(f)])
    model = nn.Model([a, b, f], [L.GRU(5)(residual), L.LSTM(3)(in_time), L.SimpleRNN(4)(L.Multiply()([e1, e1]))])
    assert nn.onnx.export(model, tmp_path / "m.onnx") == [("batch", "time"), ("batch", "time_1"),
                                                          ("batch", "time_2", 8)]  # fmt: skip
    session = session_of(tmp_path / "m.onnx")
    assert [i.type for i in session.get_inputs()] == ["tensor(int64)", "tensor(int64)", "tensor(float)"]
    for steps in (9, 14):
        xs = [ids(steps=steps, padding="pre"), ids(steps=steps, padding="post", seed=5),
              rng(steps).standard_normal((40, 4, 8))]  # fmt: skip
        assert_same(session, model, xs)


def test_an_output_keeps_the_length_of_its_one_free_input(tmp_path):
    """A tagger whose residual keeps the steps: its output's length is named "time" as its input's."""
    x = nn.Input(shape=(None, 4))
    h = L.Dense(4)(L.LSTM(4, return_sequences=True)(x))
    model = nn.Model(x, L.Dense(2)(L.Add()([x, h])))
    assert nn.onnx.export(model, tmp_path / "m.onnx") == ("batch", "time", 4)
    session = session_of(tmp_path / "m.onnx")
    assert session.get_outputs()[0].shape == ["batch", "time", 2]
    for steps in (3, 11):
        assert_same(session, model, [rng(steps).standard_normal((6, steps, 4))])


def test_input_shape_for_several_inputs(tmp_path):
    """A list of shapes, one per input, fixes them; a free image size must be given; mistakes name the input."""
    img, seq = nn.Input(shape=(None, None, 1)), nn.Input(shape=(None, 3))
    pooled = L.GlobalMaxPool2D()(L.Conv2D(3, 3)(img))
    model = nn.Model([img, seq], L.Dense(2)(L.Concatenate()([pooled, L.GRU(3)(seq)])))
    with pytest.raises(ValueError, match=r"input 0 \('input'\)'s shape is not known .*input_shape=\[\(28, 28, 1\)"):
        nn.onnx.export(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"input_shape: the model has 2 inputs, so give a list of 2 shapes"):
        nn.onnx.export(model, tmp_path / "m.onnx", input_shape=(7, 7, 1))
    with pytest.raises(ValueError, match=r"input_shape\[1\] must be a tuple"):
        nn.onnx.export(model, tmp_path / "m.onnx", input_shape=[(7, 7, 1), ()])
    with pytest.raises(ValueError, match=r"input_shape \[\(7, 7, 2\), \(5, 3\)\] does not fit the model: .*'conv2d'"):
        nn.onnx.export(model, tmp_path / "m.onnx", input_shape=[(7, 7, 2), (5, 3)])
    assert not (tmp_path / "m.onnx").exists()
    assert nn.onnx.export(model, tmp_path / "m.onnx", input_shape=[(7, 7, 1), (5, 3)]) == [
        ("batch", 7, 7, 1),
        ("batch", 5, 3),
    ]
    assert_same(
        session_of(tmp_path / "m.onnx"), model, [rng().standard_normal((4, 7, 7, 1)), rng(1).standard_normal((4, 5, 3))]
    )


def test_a_layer_needing_a_fixed_length_in_a_graph(tmp_path):
    x = nn.Input(shape=(None,), dtype="int64")
    e = L.Embedding(30, 4)(x)
    model = nn.Model(x, L.Dense(24, 2)(L.Flatten()(L.Add()([e, L.Conv1D(4, 3, padding="same")(e)]))))
    with pytest.raises(
        ValueError, match=r"'flatten' \(Flatten\) needs a fixed number of time steps.*input_shape=\(32,\)"
    ):
        nn.onnx.export(model, tmp_path / "m.onnx")
    assert nn.onnx.export(model, tmp_path / "m.onnx", input_shape=(6,)) == ("batch", 6)
    assert_same(session_of(tmp_path / "m.onnx"), model, [ids(steps=6)])


def test_mistakes_in_graphs_are_clear_errors(tmp_path):
    class Squash(L.Activation):
        def forward(self, x, training=False):
            return x / (1 + abs(x))

    x = nn.Input(shape=(3,))
    h = L.Dense(3)(x)
    with pytest.raises(ValueError, match=r"layer 'activation' \(Squash\) has no ONNX form"):
        nn.onnx.export(nn.Model(x, L.Add()([x, Squash()(h)])), tmp_path / "m.onnx")
    named = nn.Input(shape=(3,), name="output")
    with pytest.raises(ValueError, match=r"inputs and outputs need names of their own, but \['output'\]"):
        nn.onnx.export(nn.Model(named, L.Dense(2)(named)), tmp_path / "m.onnx")
    a, b = nn.Input(shape=(3,), name="x"), nn.Input(shape=(3,), name="x")
    with pytest.raises(ValueError, match=r"but \['x'\] names two of them"):
        nn.onnx.export(nn.Model([a, b], L.Add()([a, b])), tmp_path / "m.onnx")
    img = nn.Input(shape=(None, None, 1))
    with pytest.raises(
        ValueError, match=r"input shape is not known \(its nn.Input leaves sizes free, \(None, None, 1\)"
    ):
        nn.onnx.export(nn.Model(img, L.GlobalMaxPool2D()(L.Conv2D(2, 3)(img))), tmp_path / "m.onnx")
    two_in, two_out = shared_dense(), two_outputs()
    with pytest.raises(ValueError, match="input_scaling is for a model of one input, and this one has 2"):
        nn.onnx.export(two_in, tmp_path / "m.onnx", input_scaling=(0.0, 1.0))
    with pytest.raises(ValueError, match="output_scaling is for a model of one output, and this one has 2"):
        nn.onnx.export(two_out, tmp_path / "m.onnx", output_scaling=(0.0, 1.0))
    assert not (tmp_path / "m.onnx").exists()


def test_internal_names_never_take_an_input_or_output_name(tmp_path):
    """An input named as an internal value would be (the Dense's Add, "add_4") keeps its name to itself."""
    x = nn.Input(shape=(3,), name="add_4")
    model = nn.Model(x, [L.Add()([x, L.Dense(3)(x)]), L.Add()([x, x])])
    proto = nn.onnx.to_onnx(model)
    made = [name for node in proto.graph.node for name in node.output]
    assert "add_4" not in made and len(set(made)) == len(made)
    nn.onnx.export(model, tmp_path / "m.onnx")
    session = session_of(tmp_path / "m.onnx")
    assert [o.name for o in session.get_outputs()] == ["add", "add_1"]
    assert_same(session, model, [rng().standard_normal((5, 3))])
