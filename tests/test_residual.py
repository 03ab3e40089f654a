"""Residual connections: `neuronet demo resnet` on the digits next to the plain CNN of the same layers; the
guide's 20-block MLP, which trains with residual connections and stays at chance without them; its picture."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import neuronet as nn
from neuronet import demos
from neuronet.cli import main
from neuronet.data import train_val_test_split
from neuronet.metrics import accuracy

ROW = re.compile(r"^  (ResNet|plain CNN) +([\d,]+) +([\d.]+)% +[\d.]+ s$", re.M)


def demo_table(out: str) -> dict:
    """The demo's table: each network's (parameters, test accuracy in %)."""
    return {name: (int(count.replace(",", "")), float(score)) for name, count, score in ROW.findall(out)}


def test_resnet_demo_reaches_98_percent_beside_the_plain_cnn_of_the_same_parameters(capsys):
    assert main(["demo", "resnet"]) == 0
    out = capsys.readouterr().out
    table = demo_table(out)
    assert set(table) == {"ResNet", "plain CNN"}
    assert table["ResNet"][1] >= 98.0
    assert table["ResNet"][0] == table["plain CNN"][0] == 9770
    assert "add (Add)" in out and "relu, batch_normalization_2" in out  # the summary: the Add and what feeds it


def test_resnet_demo_plots_the_resnets_training_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    assert main(["demo", "resnet", "--epochs", "2", "--plot", str(path)]) == 0
    assert f"the ResNet's training curves written to {path}" in capsys.readouterr().out
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_resnet_demo_saves_the_resnet_as_a_graph_model(tmp_path, capsys):
    path = tmp_path / "resnet.nnet"
    assert main(["demo", "resnet", "--epochs", "1", "--out", str(path)]) == 0
    assert f"the ResNet saved to {path}" in capsys.readouterr().out
    model = nn.load_model(path)
    assert sum(type(layer).__name__ == "Add" for layer in model.layers) == 2
    assert model.predict(np.zeros((3, 8, 8, 1))).shape == (3, 10)


def test_the_plain_cnn_is_the_resnet_without_its_adds():
    resnet, plain = demos.digits_resnet(), demos.digits_resnet(residual=False)
    kinds = [type(layer).__name__ for layer in resnet.layers]
    assert [k for k in kinds if k != "Add"] == [type(layer).__name__ for layer in plain.layers]
    assert kinds.count("Add") == 2
    assert [p.data.shape for p in resnet.parameters()] == [p.data.shape for p in plain.parameters()]


def deep_mlp_trained(residual: bool) -> tuple[np.ndarray, list, float]:
    """The guide's experiment: the gradient reaching each block at the start, the loss per epoch after 20
    epochs of SGD, the test accuracy."""
    X, y = nn.datasets.load_digits()
    (xt, yt), _, (xs, ys) = train_val_test_split(X / 16, y, val_size=0.1, test_size=0.2, stratify=True, seed=0)
    model = demos.deep_mlp(residual)
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.SGD(0.01, momentum=0.9, clipnorm=1.0))
    gradients = demos.block_gradients(model, xt, yt)
    history = model.fit(xt, yt, epochs=20, batch_size=32, verbose=0)
    return gradients, history.history["loss"], accuracy(ys, model.predict(xs))


def test_a_20_block_mlp_trains_with_residual_connections_and_stays_at_chance_without():
    gradients, loss, score = deep_mlp_trained(residual=True)
    assert len(gradients) == 20
    assert gradients[0] >= gradients[-1]  # the gradient reaches the first block undiminished
    assert loss[-1] < 0.2 and score > 0.9
    nn.set_seed(0)
    gradients, loss, score = deep_mlp_trained(residual=False)
    assert gradients[0] < 0.01 * gradients[-1]  # it fades on its way back through 20 blocks
    assert loss[-1] > 0.95 * np.log(10) and score < 0.2  # uniform guesses over 10 classes: loss ln 10


def test_a_block_of_the_deep_mlp_adds_its_input_only_when_residual():
    for residual, adds in ((True, 20), (False, 0)):
        model = demos.deep_mlp(residual, blocks=20, width=8)
        assert sum(type(layer).__name__ == "Add" for layer in model.layers) == adds
        assert sum(type(layer).__name__ == "Dense" for layer in model.layers) == 42


def test_the_guides_figure_script_draws_the_experiment(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "docs"))
    import make_figures

    make_figures.main(tmp_path)
    out = capsys.readouterr().out
    for name in ("residual_gradients.png", "attention.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert "residual: y = x + F(x): gradient reaching block 1" in out and "plain: y = F(x)" in out
    # the attention chapter's claims: unscaled scores saturate the softmax as d grows and its gradient fades;
    # scaled, neither changes much with d
    found = make_figures.softmax_saturation([1, 512], queries=500)
    sys.modules.pop("make_figures")
    (scaled_top, scaled_grad), (plain_top, plain_grad) = found[True], found[False]
    assert plain_top[1] > 0.9 and plain_grad[1] < 0.1 < 0.25 < scaled_grad[1] and scaled_top[1] < 0.3
    assert abs(scaled_top[0] - plain_top[0]) < 1e-12  # at d = 1 the scale is 1
    assert float(re.search(r"first equals last: held-out accuracy ([\d.]+)%", out)[1]) >= 95
