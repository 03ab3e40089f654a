"""`neuronet demo writer`: its pieces (the shipped text, windows, baselines, the model) learn below the bigram
baseline in a short run, and the command's arguments are checked."""

import numpy as np
import pytest

import neuronet as nn
from neuronet import demos
from neuronet.cli import main
from neuronet.cli.demo import writer_data


def test_the_shipped_text_and_its_split():
    text = nn.datasets.neuronet_docs()
    assert len(text) > 50_000 and "neuron" in text and "```" not in text
    vocabulary, train, val = writer_data(seed=0)
    assert vocabulary == "".join(sorted(set(text)))
    assert len(train) + len(val) == len(text) and 0.05 < len(val) / len(text) < 0.2
    held = "".join(vocabulary[i] for i in val).splitlines()
    assert all(paragraph in text for paragraph in held[:20])


def test_windows_and_baselines():
    ids = np.arange(10)
    x, y = demos.character_windows(ids, 4, 3)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [3, 4, 5, 6]])
    np.testing.assert_array_equal(y, x + 1)
    # a text that alternates 0 1 0 1: the bigram knows the next character, the unigram has ln 2 at best
    train = np.tile([0, 1], 500)
    losses = demos.ngram_losses(train, np.array([[0, 1, 0]]), np.array([[1, 0, 1]]), 2)
    assert abs(losses["unigram"] - np.log(2)) < 1e-3 and losses["bigram"] < 0.01


@pytest.mark.slow
def test_a_short_run_learns_below_the_bigram_baseline():
    """5 of the demo's 20 epochs, its model and data: the validation loss is below both baselines already."""
    vocabulary, train, val = writer_data(seed=0)
    xt, yt = demos.character_windows(train, 64, 32)
    xv, yv = demos.character_windows(val, 64, 64)
    nn.set_seed(0)
    model = demos.writer_transformer(len(vocabulary), 64)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=nn.optimizers.Adam(0.003))
    model.fit(xt, yt, epochs=5, batch_size=32, verbose=0)
    baselines = demos.ngram_losses(train, xv, yv, len(vocabulary))
    loss = demos.character_loss(model, xv, yv)
    assert loss < baselines["bigram"] < baselines["unigram"]
    written = nn.text.generate(model, "The ", 40, temperature=0.5, seed=0, vocabulary=vocabulary)
    assert written.startswith("The ") and len(written) == 44


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "-1"], "--temperature: must be >= 0"),
        (["--temperature", "hot"], "--temperature: expected a number"),
        (["--epochs", "0"], "--epochs: must be 1 or more"),
        (["--prompt", "caf\u263a"], "--prompt 'caf\u263a' holds characters the documents never use: '\u263a'"),
        (["--prompt", ""], "--prompt '' is empty"),
        (["--prompt", "x" * 33], "--prompt has 33 characters: give at most 32"),
    ],
)
def test_the_command_refuses_bad_arguments(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "writer", *args)
    assert code != 0 and message in err, err
    assert not (tmp_path / "demo_writer_attention.png").exists()  # refused before any training


def test_the_command_is_listed(capsys):
    _, out, _ = run(capsys, "demo", "--help")
    assert "writer" in out and "--prompt" in out and "--temperature" in out
