"""The guide's pictures, drawn from measurements made when this script runs.

    python docs/make_figures.py            # writes docs/residual_gradients.png
    python docs/make_figures.py OUT_DIR    # elsewhere

residual_gradients.png (guide, "Graph models and residual connections"): a
20-block MLP on the digits with residual connections against the same layers
without them, ``neuronet.demos.deep_mlp``. Left: the gradient reaching each
block at the start of training (``demos.block_gradients``). Right: the
training loss per epoch, each network trained alike. The numbers the guide
quotes are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import neuronet as nn
from neuronet import demos
from neuronet.data import train_val_test_split
from neuronet.metrics import accuracy

EPOCHS = 20
NAMES = {True: "residual: y = x + F(x)", False: "plain: y = F(x)"}


def residual_experiment(epochs: int = EPOCHS, seed: int = 0) -> dict:
    """For each kind of deep_mlp: the gradient reaching each block at the start, the loss per epoch, the
    final training and test accuracy."""
    X, y = nn.datasets.load_digits()
    (xt, yt), _, (xs, ys) = train_val_test_split(X / 16, y, val_size=0.1, test_size=0.2, stratify=True, seed=0)
    results = {}
    for residual in (True, False):
        nn.set_seed(seed)
        model = demos.deep_mlp(residual)
        # the residual network starts with large gradients (its values grow block by block): both clip at norm 1
        optimizer = nn.optimizers.SGD(0.01, momentum=0.9, clipnorm=1.0)
        model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
        gradients = demos.block_gradients(model, xt, yt)
        history = model.fit(xt, yt, epochs=epochs, batch_size=32, verbose=0)
        results[residual] = {
            "gradients": gradients,
            "loss": history.history["loss"],
            "train_accuracy": history.history["accuracy"][-1],
            "test_accuracy": accuracy(ys, model.predict(xs)),
        }
    return results


def residual_gradients(path: Path) -> None:
    from matplotlib.figure import Figure

    results = residual_experiment()
    fig = Figure(figsize=(10.0, 4.0), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2)
    for residual, colour in ((True, "tab:blue"), (False, "tab:red")):
        r = results[residual]
        blocks = np.arange(1, len(r["gradients"]) + 1)
        left.semilogy(blocks, r["gradients"], "o-", color=colour, label=NAMES[residual])
        epochs = np.arange(1, len(r["loss"]) + 1)
        label = f"{NAMES[residual]}; test accuracy {r['test_accuracy']:.1%}"
        right.plot(epochs, r["loss"], "o-", color=colour, label=label)
        print(
            f"{NAMES[residual]}: gradient reaching block 1 {r['gradients'][0]:.2g}, block 20 {r['gradients'][-1]:.2g};"
            f" loss {r['loss'][0]:.3f} -> {r['loss'][-1]:.3f}, training accuracy {r['train_accuracy']:.1%},"
            f" test accuracy {r['test_accuracy']:.1%}"
        )
    left.set(xlabel="block (1 = nearest the input)", ylabel="|dL/d(block output)|, at the start", xticks=blocks[::2])
    left.set_title("the gradient reaching each block")
    right.set(xlabel="epoch", ylabel="training loss (cross-entropy)", xticks=[1, *range(5, EPOCHS + 1, 5)])
    right.set_title(f"training, the same SGD for both ({EPOCHS} epochs)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("20 blocks of two Dense layers on the 8x8 digits")
    fig.savefig(path, format="png")
    print(f"written to {path}")


def main(out: Path) -> None:
    residual_gradients(out / "residual_gradients.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
