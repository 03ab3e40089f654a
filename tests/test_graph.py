"""Graph models: gradients of residual, two-input, two-output, shared-layer and Concatenate graphs against
finite differences (float64) and PyTorch, input gradients included; the graph's checks; several inputs and
outputs through fit, evaluate and predict."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error
from neuronet.several import Several

L = nn.layers


def residual():
    x = nn.Input(shape=(5,))
    h = L.Dense(5, 7, activation="tanh")(x)
    y = L.Add()([x, L.Dense(7, 5)(h)])
    return nn.Model(x, L.Dense(5, 3, activation="softmax")(y)), "categorical_crossentropy"


def two_inputs():
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(3,))
    c = L.Concatenate()([L.Dense(4, 6, activation="relu")(a), b])
    return nn.Model([a, b], L.Dense(9, 2)(c)), "mse"


def two_outputs():
    x = nn.Input(shape=(4,))
    h = L.Dense(4, 6, activation="sigmoid")(x)
    return nn.Model(x, [L.Dense(6, 1)(h), L.Dense(6, 3, activation="softmax")(h)]), ["mse", "categorical_crossentropy"]


def shared_dense():
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    encoder = L.Dense(4, 5, activation="tanh")
    merged = L.Multiply()([encoder(a), encoder(b)])
    return nn.Model([a, b], L.Dense(5, 1)(merged)), "mse"


def shared_conv():
    x = nn.Input(shape=(6, 6, 2))
    conv = L.Conv2D(2, 2, 3, padding="same", activation="relu")
    twice = conv(conv(x))  # one layer called on its own output: two uses, one set of weights
    return nn.Model(x, L.Dense(72, 2)(L.Flatten()(L.Subtract()([twice, x])))), "mse"


def shared_lstm():
    a, b = nn.Input(shape=(4, 3)), nn.Input(shape=(5, 3))
    lstm = L.LSTM(3, 4)
    return nn.Model([a, b], L.Dense(8, 2)(L.Concatenate()([lstm(a), lstm(b)]))), "mse"


def conv_pool_inside():
    x = nn.Input(shape=(8, 8, 1))
    c = L.Conv2D(1, 3, 3, padding="same", activation="relu")(x)  # conv, pool: fused inside the graph
    p = L.MaxPool2D(2)(c)
    skip = L.AvgPool2D(2)(x)
    y = L.Concatenate()([p, skip])
    return nn.Model(x, L.Dense(64, 2, activation="softmax")(L.Flatten()(y))), "categorical_crossentropy"


GRAPHS = [residual, two_inputs, two_outputs, shared_dense, shared_conv, shared_lstm, conv_pool_inside]


def data(model, rng, n=5):
    """Random inputs, and targets in each loss's form (one-hot classes for a cross-entropy)."""
    xs = [rng.standard_normal((n, *node.shape[1:])) for node in model.graph.inputs]
    ys = []
    for loss, node in zip(model.losses, model.graph.outputs):
        width = node.shape[-1]
        given = rng.standard_normal((n, width)) if loss.fuses_with is None else rng.integers(0, width, n)
        ys.append(loss.prepare_targets(given, np.zeros((n, width))))
    return (xs if model.several_inputs else xs[0]), (Several(ys) if model.several_outputs else ys[0])


def randomise(model, rng):
    for p in model.parameters():  # biases too: nonzero, so a wrong bias gradient shows
        p.data[...] = rng.standard_normal(p.data.shape) * 0.5


@pytest.mark.parametrize("make", GRAPHS)
def test_graph_gradients_match_finite_differences(float64, make):
    rng = np.random.default_rng(0)
    model, loss = make()
    model.compile(loss=loss, optimizer="sgd")
    randomise(model, rng)
    x, y = data(model, rng)
    out = model.forward(x, training=True)
    model.backward_loss(out, y)
    analytic = [p.grad.copy() for p in model.parameters()]

    def loss_value():
        return model.loss_of(model.call(x), y)

    for p, grad in zip(model.parameters(), analytic):
        assert relative_error(grad, numerical_gradient(loss_value, p.data)) < 1e-6
    # the input gradients, from model.backward with dL/d(outputs)
    outs = model.forward(x, training=True)
    dys = [rng.standard_normal(o.shape) for o in (outs if model.several_outputs else [outs])]
    dxs = model.backward(dys if model.several_outputs else dys[0])
    for k, xk in enumerate(x if model.several_inputs else [x]):

        def projected():
            outs = model.call(x)
            return sum(float((o * d).sum()) for o, d in zip(outs if model.several_outputs else [outs], dys))

        dx = dxs[k] if model.several_inputs else dxs
        assert relative_error(dx, numerical_gradient(projected, xk)) < 1e-6


def test_a_shared_layer_has_its_parameters_once_and_the_sum_of_both_uses(float64):
    model, _ = shared_dense()
    encoder = model.layers[0]
    assert len(model.parameters()) == 4  # the encoder's two, the head's two
    assert [p for p in model.parameters()][:2] == encoder.parameters()
    assert model.layers.count(encoder) == 1


def test_gradients_add_where_a_node_feeds_several_layers(float64):
    # y = x + x: dL/dx is twice dL/dy
    x = nn.Input(shape=(3,))
    model = nn.Model(x, L.Add()([x, x]))
    v = np.arange(6.0).reshape(2, 3)
    model.forward(v, training=True)
    dy = np.ones((2, 3))
    np.testing.assert_array_equal(model.backward(dy), 2 * dy)


torch = pytest.importorskip("torch")


def test_residual_matches_pytorch(float64):
    rng = np.random.default_rng(1)
    model, _ = residual()
    randomise(model, rng)
    d1, d2, d3 = model.layers[0], model.layers[1], model.layers[3]
    x = rng.standard_normal((4, 5))
    dy = rng.standard_normal((4, 3))
    xt = torch.tensor(x, requires_grad=True)
    ws = [
        torch.tensor(a, requires_grad=True) for layer in (d1, d2, d3) for a in (layer.weights.data, layer.biases.data)
    ]
    h = torch.tanh(xt @ ws[0] + ws[1])
    y = xt + h @ ws[2] + ws[3]
    out = torch.softmax(y @ ws[4] + ws[5], dim=-1)
    out.backward(torch.tensor(dy))
    np.testing.assert_allclose(model.forward(x, training=True), out.detach().numpy(), atol=1e-8)
    np.testing.assert_allclose(model.backward(dy), xt.grad.numpy(), atol=1e-8)
    ours = [a.grad for layer in (d1, d2, d3) for a in (layer.weights, layer.biases)]
    for mine, theirs in zip(ours, ws):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), atol=1e-8)


def test_two_inputs_two_outputs_and_a_shared_layer_match_pytorch(float64):
    rng = np.random.default_rng(2)
    a, b = nn.Input(shape=(4,)), nn.Input(shape=(4,))
    encoder = L.Dense(4, 5, activation="tanh")
    ea, eb = encoder(a), encoder(b)
    head1 = L.Dense(10, 1)
    head2 = L.Dense(5, 2)
    model = nn.Model([a, b], [head1(L.Concatenate()([ea, eb])), head2(L.Average()([ea, eb]))])
    randomise(model, rng)
    xa, xb = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    dy1, dy2 = rng.standard_normal((3, 1)), rng.standard_normal((3, 2))
    at, bt = torch.tensor(xa, requires_grad=True), torch.tensor(xb, requires_grad=True)
    params = {id(p): torch.tensor(p.data, requires_grad=True) for p in model.parameters()}

    def dense(layer, v, act=None):
        z = v @ params[id(layer.weights)] + params[id(layer.biases)]
        return act(z) if act else z

    ta, tb = dense(encoder, at, torch.tanh), dense(encoder, bt, torch.tanh)
    o1 = dense(head1, torch.cat([ta, tb], dim=-1))
    o2 = dense(head2, (ta + tb) / 2)
    (o1 * torch.tensor(dy1)).sum().add((o2 * torch.tensor(dy2)).sum()).backward()
    outs = model.forward([xa, xb], training=True)
    np.testing.assert_allclose(outs[0], o1.detach().numpy(), atol=1e-8)
    np.testing.assert_allclose(outs[1], o2.detach().numpy(), atol=1e-8)
    da, db = model.backward([dy1, dy2])
    np.testing.assert_allclose(da, at.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-8)
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, params[id(p)].grad.numpy(), atol=1e-8)


def test_padding_masks_flow_through_branches_and_merges():
    # an Embedding's padding mask reaches both recurrent branches: a padded sequence ends in the unpadded's state
    nn.set_seed(0)
    x = nn.Input(shape=(None,), dtype="int64")
    e = L.Embedding(9, 4, padding_id=0)(x)
    joined = L.Concatenate()([L.LSTM(5)(e), L.GRU(3)(e)])
    model = nn.Model(x, L.Dense(2)(joined))
    padded = np.array([[0, 0, 3, 4, 5], [0, 7, 1, 2, 8]])
    unpadded_first = model.predict(np.array([[3, 4, 5]]))
    np.testing.assert_allclose(model.predict(padded)[:1], unpadded_first, rtol=1e-5, atol=1e-6)


def test_the_command_line_exports_a_graph_model_of_two_inputs(tmp_path, capsys):
    pytest.importorskip("onnx")
    from neuronet.cli import main

    model, _ = two_inputs()
    model.save(tmp_path / "two.nnet")
    assert main(["export", str(tmp_path / "two.nnet"), str(tmp_path / "two.onnx")]) == 0
    printed = capsys.readouterr().out
    assert "inputs: batch x 4; batch x 3" in printed
    assert (tmp_path / "two.onnx").stat().st_size > 0


def test_several_outputs_through_validation_callbacks_checkpoints_and_evaluate(tmp_path):
    nn.set_seed(0)
    rng = np.random.default_rng(0)
    a, b = nn.Input(shape=(3,)), nn.Input(shape=(2,))
    h = L.Dense(16, activation="relu")(L.Concatenate()([a, b]))
    model = nn.Model([a, b], [L.Dense(1)(h), L.Dense(3, activation="softmax")(h)])
    model.compile(loss=["mse", "categorical_crossentropy"], loss_weights=[2.0, 1.0], metrics=[["mae"], ["accuracy"]])
    xa, xb = rng.standard_normal((120, 3)), rng.standard_normal((120, 2))
    targets = [xa.sum(axis=1), (xb[:, 0] > 0).astype(int) + (xb[:, 1] > 0)]
    stop = nn.callbacks.EarlyStopping(monitor="val_dense_2_accuracy", patience=2, mode="max")
    best = tmp_path / "best.nnet"
    keep = nn.callbacks.ModelCheckpoint(best, monitor="val_dense_1_loss")
    history = model.fit([xa, xb], targets, epochs=30, batch_size=16, verbose=0, callbacks=[stop, keep],
                        validation_data=([xa[:40], xb[:40]], [t[:40] for t in targets]))  # fmt: skip
    logged = history.history
    assert set(logged) == {
        "loss", "dense_1_loss", "dense_1_mae", "dense_2_loss", "dense_2_accuracy",
        "val_loss", "val_dense_1_loss", "val_dense_1_mae", "val_dense_2_loss", "val_dense_2_accuracy",
    }  # fmt: skip
    # the loss is the weighted sum of the outputs' losses (no penalties here)
    np.testing.assert_allclose(
        logged["val_loss"], 2 * np.array(logged["val_dense_1_loss"]) + logged["val_dense_2_loss"], rtol=1e-5
    )
    assert len(logged["loss"]) < 30 or logged["dense_2_accuracy"][-1] > 0.9  # stopped early, or learned
    scores = model.evaluate([xa[:40], xb[:40]], [t[:40] for t in targets])
    assert scores["loss"] == pytest.approx(2 * scores["dense_1_loss"] + scores["dense_2_loss"], rel=1e-5)
    loaded = nn.load_model(best)
    assert min(logged["val_dense_1_loss"]) == pytest.approx(
        loaded.evaluate([xa[:40], xb[:40]], [t[:40] for t in targets])["dense_1_loss"], rel=1e-5
    )
    predicted = model.predict([xa, xb])
    assert [p.shape for p in predicted] == [(120, 1), (120, 3)]
    with pytest.raises(ValueError, match="2 inputs"):
        model.predict(xa)
    with pytest.raises(ValueError, match="2 outputs"):
        model.fit([xa, xb], targets[0], verbose=0)
