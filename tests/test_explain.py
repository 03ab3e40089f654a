"""model.explain_step: the page's numbers are the model's own forward values, backward gradients and update;
the model and its optimizer are left exactly as they were; the page is small, self-contained and renders."""

import csv
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import neuronet as nn
from neuronet import demos
from neuronet import layers as L
from neuronet.cli import main
from neuronet.datasets import load_digits, sentiment
from neuronet.text import Tokenizer, pad_sequences

TWO_MB = 2 * 1024 * 1024


def page_data(path) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r'<script type="application/json" id="neuronet-step">(.*?)</script>', text, re.S).group(1)
    return json.loads(block.replace("<\\/", "</"))


def same(entry: dict, expected) -> None:
    """The page's entry of an array holds exactly ``expected``: every entry, or its sample of entries."""
    expected = np.asarray(expected)
    assert entry["shape"] == list(expected.shape)
    if "values" in entry:
        np.testing.assert_array_equal(np.array(entry["values"]).reshape(expected.shape), expected)
    else:
        assert len(entry["sample"]) >= 10
        for index, value in entry["sample"]:
            assert expected[tuple(index)] == value, (index, value, expected[tuple(index)])
    assert entry["min"] == float(expected.min()) and entry["max"] == float(expected.max())


def snapshot(model):
    state = {name: v.copy() for s in model.optimizer.state.values() for name, v in s.items() if name != "scratch"}
    return model.get_weights(), state, model.optimizer.iterations, model.ops.rng.bit_generator.state


def assert_unchanged(model, before) -> None:
    weights, state, iterations, stream = before
    now = snapshot(model)
    assert all(a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(weights, now[0]))
    assert now[1].keys() == state.keys() and all(np.array_equal(state[k], now[1][k]) for k in state)
    assert now[2] == iterations and now[3] == stream


def trained(model, x, y, optimizer=None):
    """``model`` compiled and trained a few steps, so that its optimizer has state to keep."""
    model.compile(loss="categorical_crossentropy", optimizer=optimizer or nn.optimizers.Adam(0.01))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


def chain_reference(model, x, y):
    """A Sequential's step computed here, layer by layer from the layers' own methods: each layer's output,
    the gradient each received, and every parameter's gradient."""
    x, y = model.check_data(x, y)
    h, mask, outputs = model.ops.asarray(x), None, []
    for layer in model.layers:
        h = layer.forward(h, True, mask=mask) if layer.takes_mask and mask is not None else layer.forward(h, True)
        mask = layer.output_mask(mask)
        outputs.append(np.array(h, copy=True))
    model.zero_grad()
    last = model.layers[-1]
    dy = model.loss.backward_through_activation(h, y)  # softmax with cross-entropy: dL/dz
    received = [None] * len(model.layers)
    received[-1] = np.array(dy, copy=True)
    dy = last.backward_linear(dy)
    for k in range(len(model.layers) - 2, -1, -1):
        received[k] = np.array(dy, copy=True)
        if k == 0:
            model.layers[0].backward_params_only(dy)
        else:
            dy = model.layers[k].backward(dy)
    grads = [np.array(p.grad, copy=True) for p in model.parameters()]
    return outputs, received, grads


def check_updates(model, data, x, y, exact: bool = True) -> None:
    """The page's new values are the weights one real training step gives: exactly, or (``exact`` False: the
    step runs a convolution and its pooling fused, where the page shows them one by one) to float32's rounding."""
    pages = [p for call in data["calls"] for p in call["parameters"]]
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(data["loss"]["total"], rel=1e-6)
    for entry, p in zip(pages, model.parameters()):
        if exact:
            same(entry["new_value"], p.data)
        else:
            np.testing.assert_allclose(np.reshape(entry["new_value"]["values"], p.shape), p.data, rtol=1e-6, atol=1e-8)


def digits(n=16, images=False):
    X, y = load_digits()
    X = X[:n] / 16.0
    return (X.reshape(-1, 8, 8, 1) if images else X), y[:n]


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_a_chain_models_page_holds_its_forward_values_gradients_and_update(kind, tmp_path):
    nn.set_seed(3)
    if kind == "mlp":
        x, y = digits()
        model = demos.digits_mlp()
    elif kind == "cnn":
        x, y = digits(images=True)
        model = nn.Sequential(
            [
                L.Conv2D(1, 4, 3, padding="same", activation="relu"),
                L.MaxPool2D(2),
                L.Conv2D(4, 6, 3, padding="same"),
                L.ReLU(),
                L.MaxPool2D(2),
                L.Flatten(),
                L.Dropout(0.3),  # random: the page's draws are the step's, and the stream is put back
                L.Dense(24, 10, activation="softmax"),
            ],
            input_shape=(8, 8, 1),
        )
    else:
        texts, y = sentiment(40, seed=0)
        x = pad_sequences(Tokenizer().fit(texts).texts_to_sequences(texts), maxlen=12)  # padding: a mask
        model = demos.sentiment_rnn(int(x.max()) + 1, 12)
    trained(model, x, y)
    before = snapshot(model)
    path = model.explain_step(x, y, tmp_path / "step.html")
    assert path == str(tmp_path / "step.html")
    assert_unchanged(model, before)
    data = page_data(path)
    assert [c["layer"] for c in data["calls"]] == [layer.name for layer in model.layers]

    outputs, received, grads = chain_reference(model, x, y)
    for call, out, dy in zip(data["calls"], outputs, received):
        same(call["output"], out)
        same(call["grad_output"], dy)
    assert data["calls"][-1]["head"] and not data["calls"][0]["head"]
    for k in range(1, len(model.layers)):  # what a layer sends back is what the one before it received
        same(data["calls"][k]["grad_inputs"][0], received[k - 1])
    assert data["calls"][0]["grad_inputs"] == [None]  # the model's input needs no gradient
    pages = [p for call in data["calls"] for p in call["parameters"]]
    assert len(pages) == len(model.parameters())
    for k, (entry, g) in enumerate(zip(pages, grads)):
        same(entry["grad"], g)
        same(entry["value"], before[0][k])  # (get_weights: the parameters first, in order)
    model.set_weights(before[0])
    model.ops.rng.bit_generator.state = before[3]  # the real step draws what the page's drew
    check_updates(model, data, x, y, exact=kind != "cnn")


def residual_graph():
    x = nn.Input(shape=(64,))
    h = L.Dense(64, 16, activation="relu")(x)
    f = L.Dense(16, 16)(L.Dense(16, 16, activation="tanh")(h))
    out = L.Dense(16, 10, activation="softmax")(L.Add()([h, f]))
    return nn.Model(x, out)


def recording(model):
    """Each layer's methods wrapped, to record what the model's own passes give and hand each layer."""
    seen = {"out": {}, "dy": {}, "dx": {}}

    def wrap(layer, method, key):
        inner = getattr(layer, method)

        def recorded(value, *args, **kwargs):
            result = inner(value, *args, **kwargs)
            if key == "out":
                seen["out"][layer.name] = np.array(result, copy=True)
            else:
                seen["dy"][layer.name] = np.array(value, copy=True)
                seen["dx"][layer.name] = result
            return result

        setattr(layer, method, recorded)

    for layer in model.layers:
        wrap(layer, "forward", "out")
        wrap(layer, "backward", "dy")
        wrap(layer, "backward_params_only", "dy")
    wrap(model.layers[-1], "backward_linear", "dy")  # the head: the loss gives dL/dz, past the softmax
    return seen


def test_a_graph_models_page_follows_the_graph_and_holds_what_its_passes_give(tmp_path):
    nn.set_seed(4)
    x, y = digits(32)
    model = trained(residual_graph(), x, y, nn.optimizers.SGD(0.05, momentum=0.9))
    before = snapshot(model)
    data = page_data(model.explain_step(x, y, tmp_path / "graph.html"))
    assert_unchanged(model, before)
    names = [c["layer"] for c in data["calls"]]
    assert names == [layer.name for layer in model.graph.layers]
    add = data["calls"][names.index("add")]
    assert add["fed_by"] == ["dense", "dense_2"] and len(add["grad_inputs"]) == 2
    assert data["calls"][0]["fed_by"] == ["the model's input 'input'"]

    seen = recording(model)
    x_checked, y_checked = model.check_data(x, y)
    out = model.forward(x_checked, training=True)
    model.backward_loss(out, model.ops.asarray(y_checked))
    for call in data["calls"]:
        same(call["output"], seen["out"][call["layer"]])
        same(call["grad_output"], seen["dy"][call["layer"]])
    for d, sent in zip(add["grad_inputs"], seen["dx"]["add"]):
        same(d, sent)
    pages = {f"{c['layer']}.{p['name']}": p for c in data["calls"] for p in c["parameters"]}
    named = {f"{layer.name}.{path}": p for layer in model.layers for path, p in layer.named_parameters().items()}
    assert pages.keys() == named.keys()
    for key, p in named.items():
        same(pages[key]["grad"], p.grad)
    for layer in model.layers:  # the wrappers off: the real step
        for method in ("forward", "backward", "backward_params_only", "backward_linear"):
            vars(layer).pop(method, None)
    model.set_weights(before[0])
    check_updates(model, data, x, y)


def test_explain_step_before_compile_or_training_is_refused_or_fresh(tmp_path):
    x, y = digits(8)
    model = demos.digits_mlp()
    with pytest.raises(RuntimeError, match="compile"):
        model.explain_step(x, y, tmp_path / "a.html")
    model.compile(optimizer="adam")
    before = model.get_weights()
    data = page_data(model.explain_step(x, y, tmp_path / "a.html"))  # no optimizer state yet: none is made
    assert model.optimizer.state == {} and model.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert data["optimizer"]["steps_taken"] == 0
    with pytest.raises(nn.checks.ArgumentError, match="directory"):
        model.explain_step(x, y, tmp_path)


def demo_cases():
    X, y = digits(32)
    texts, labels = sentiment(64, seed=0)
    tokens = pad_sequences(Tokenizer().fit(texts).texts_to_sequences(texts), maxlen=12)
    vocab = int(tokens.max()) + 1
    return {
        "digits_mlp": (demos.digits_mlp, X, y),
        "digits_cnn": (demos.digits_cnn, X.reshape(-1, 8, 8, 1), y),
        "text_lstm": (lambda: demos.sentiment_rnn(vocab, 12), tokens[:32], labels[:32]),
        "digits_resnet": (demos.digits_resnet, X.reshape(-1, 8, 8, 1), y),
        "text_transformer": (lambda: demos.sentiment_transformer(vocab, 12), tokens[:32], labels[:32]),
    }


def test_a_training_pass_left_unanswered_before_explain_step_is_refused_a_backward_pass(tmp_path):
    """explain_step leaves the layers holding its batch's inputs: a backward pass for the user's earlier
    forward pass would be that batch's gradient, so it is refused, as after two forward passes."""
    x, y = load_digits()
    model = nn.demos.digits_mlp()
    model.compile(optimizer="adam")
    model.explain_step(x[:4] / 16, y[:4], tmp_path / "a.html")
    out = model.forward(x[:4] / 16, training=True)
    model.backward(np.ones_like(out))  # nothing pending before explain_step: answered as usual
    model.forward(x[:4] / 16, training=True)
    model.explain_step(x[4:8] / 16, y[4:8], tmp_path / "b.html")
    with pytest.raises(RuntimeError, match="each layer keeps only its last pass's inputs"):
        model.backward(np.ones_like(out))


@pytest.mark.parametrize("name", list(demo_cases()))
def test_the_demo_models_pages_are_under_two_megabytes_with_a_section_per_layer(name, tmp_path):
    nn.set_seed(0)
    make, x, y = demo_cases()[name]
    model = make()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    path = model.explain_step(x, y, tmp_path / f"{name}.html")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert os.path.getsize(path) < TWO_MB
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://""", text)  # nothing to fetch
    for k, layer in enumerate(model.graph.layers):
        assert f"<section id=layer-{k}><h2>{k + 1}. {layer.name} " in text
    assert len(page_data(path)["calls"]) == len(model.graph.layers)


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_cli_writes_the_page_and_refuses_a_bad_file_in_one_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [[f"{a:.3f}", f"{b:.3f}", "yes" if a + b > 0 else "no"] for a, b in rng.normal(size=(60, 2))]
    data = write_rows(tmp_path / "d.csv", ["a", "b", "label"], rows)
    model = tmp_path / "m.nnet"
    assert main(["train", str(data), "--target", "label", "--epochs", "2", "--out", str(model), "--quiet"]) == 0
    saved = model.read_bytes()
    out = tmp_path / "step.html"
    assert main(["explain", str(model), str(data), "--out", str(out), "--rows", "5"]) == 0
    printed = capsys.readouterr().out
    assert "wrote one training step on the first 5 rows" in printed
    assert "shows the inputs as the network sees them" in printed  # (a classifier: its targets are classes)
    page = page_data(out)
    assert page["inputs"][0]["shape"] == [5, 2] and len(page["calls"]) == 2
    assert model.read_bytes() == saved

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01 not a table")
    for args in ([str(model), str(bad)], [str(data), str(data)], [str(model), str(tmp_path / "none.csv")]):
        code = main(["explain", *args, "--out", str(tmp_path / "x.html")])
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err and "error" in err, err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
QUIET = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def page_requests(path, tmp_path) -> tuple[str, set]:
    """Chromium, headless, loads the page: its DOM once rendered, and the URLs the page itself asked the network
    for (chromium's own requests, to Google's services, are told apart by their network isolation key)."""
    log = tmp_path / "net.json"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", *QUIET, f"--log-net-log={log}", "--dump-dom"]
        + [f"file://{path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(log.read_text())["events"]
    asked = {
        e["params"]["url"]
        for e in events
        if "url" in e.get("params", {})
        and "file://" in e["params"].get("network_isolation_key", "")
        and not e["params"]["url"].startswith("file:")
    }
    return done.stdout, asked


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium): the browser test is skipped")
def test_the_page_renders_in_a_headless_browser_with_no_network_request(tmp_path):
    nn.set_seed(1)
    x, y = digits(16, images=True)
    model = demos.digits_cnn()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    path = model.explain_step(x, y, tmp_path / "cnn.html")
    dom, asked = page_requests(path, tmp_path)
    assert asked == set()
    for k, layer in enumerate(model.layers):
        assert f'<section id="layer-{k}"><h2>{k + 1}. {layer.name} ' in dom
    assert 'title="[0,0,0,0] ' in dom and 'id="neuronet-step"' in dom
    probe = tmp_path / "probe.html"  # the check sees a page's request where there is one
    probe.write_text('<!DOCTYPE html><img src="http://neuronet-probe.invalid/x.png">')
    assert page_requests(probe, tmp_path)[1] == {"http://neuronet-probe.invalid/x.png"}
