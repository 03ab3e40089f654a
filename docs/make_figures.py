"""The guide's pictures, drawn from measurements made when this script runs.

    python docs/make_figures.py            # writes docs/residual_gradients.png, docs/attention.png, docs/cnn_*.png
                                           # and docs/model_diagram.svg
    python docs/make_figures.py OUT_DIR    # elsewhere

residual_gradients.png (guide, "Graph models and residual connections"): a
20-block MLP on the digits with residual connections against the same layers
without them, ``neuronet.demos.deep_mlp``. Left: the gradient reaching each
block at the start of training (``demos.block_gradients``). Right: the
training loss per epoch, each network trained alike. The numbers the guide
quotes are printed.

attention.png (guide, "Attention and Transformers"). Left: why the scores are
divided by sqrt(head_dim): for random queries and keys of d features, the
largest of 16 attention weights and the size of the softmax's gradient, with
and without the scale. Right: the weights of a one-layer attention classifier
trained to tell whether a sequence's first token equals its last, for one
held-out sequence: the last step reads the first.

cnn_filters.png, cnn_activations.png, cnn_saliency.png, cnn_gradients.png
(guide, "Looking inside"): the digits CNN of ``neuronet demo cnn``
(``demos.digits_cnn``) trained on the digits, then its first convolution's
filters, the maps both convolutions make of a test digit, the saliency of
eight test digits and each layer's gradient on a test batch (``nn.plot``).
model_diagram.svg: the diagram of ``demos.digits_resnet()``
(``nn.plot.model_diagram``).
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


def softmax_saturation(dims, keys: int = 16, queries: int = 2000, seed: int = 0) -> dict:
    """For queries and keys of d independent N(0, 1) features (d in ``dims``), with and without the scale
    1 / sqrt(d): the mean largest weight of a query's softmax over ``keys`` keys, and the mean size (Frobenius
    norm) of the softmax's Jacobian diag(p) - p p^T, through which every gradient to the scores passes."""
    rng = np.random.default_rng(seed)
    found = {True: ([], []), False: ([], [])}
    for d in dims:
        q, k = rng.standard_normal((queries, 1, d)), rng.standard_normal((queries, keys, d))
        dots = (q * k).sum(axis=-1)  # (queries, keys): each a sum of d products, of spread sqrt(d)
        for scaled in (True, False):
            s = dots / np.sqrt(d) if scaled else dots
            p = np.exp(s - s.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            jacobian = np.einsum("nk,kl->nkl", p, np.eye(keys)) - p[:, :, None] * p[:, None, :]
            found[scaled][0].append(p.max(axis=1).mean())
            found[scaled][1].append(np.sqrt((jacobian**2).sum(axis=(1, 2))).mean())
    return found


def pairing_attention(seed: int = 0):
    """A one-layer attention classifier trained on first_equals_last; its held-out accuracy, one held-out
    sequence and the attention weights (heads, 10, 10) it gives that sequence."""
    L = nn.layers
    nn.set_seed(seed)
    x, y = nn.datasets.first_equals_last(3000, seed=seed)
    ids = nn.Input(shape=(10,), dtype="int64")
    h = L.PositionalEmbedding(10, 16)(L.Embedding(6, 16)(ids))
    attention = L.MultiHeadAttention(16, 2)
    h = L.Add()([h, attention(h)])
    model = nn.Model(ids, L.Dense(2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x[:2000], y[:2000], epochs=40, batch_size=32, verbose=0)
    score = model.evaluate(x[2000:], y[2000:])["accuracy"]
    model.predict(x[2000:2001])
    return score, x[2000], attention.attention_scores[0]


def attention_picture(path: Path) -> None:
    from matplotlib.figure import Figure

    dims = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    found = softmax_saturation(dims)
    score, sequence, weights = pairing_attention()
    fig = Figure(figsize=(12.0, 4.0), dpi=100, layout="constrained")
    left, *heads = fig.subplots(1, 1 + len(weights), width_ratios=[1.4] + [1] * len(weights))
    for scaled, style in ((True, "o-"), (False, "s--")):
        name = "q.k / sqrt(d)" if scaled else "q.k"
        left.semilogx(dims, found[scaled][0], style, color="tab:blue", label=f"largest weight, {name}", base=2)
        left.semilogx(dims, found[scaled][1], style, color="tab:red", label=f"softmax gradient size, {name}", base=2)
        print(
            f"{name}: largest weight {found[scaled][0][0]:.2f} at d=1 -> {found[scaled][0][-1]:.2f} at d=512;"
            f" gradient size {found[scaled][1][0]:.3f} -> {found[scaled][1][-1]:.3f}"
        )
    left.set(xlabel="d, features of a query and a key", ylim=(0, 1.02))
    left.set_title("16 keys, random queries and keys")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    for h, (ax, w) in enumerate(zip(heads, weights)):
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
        ax.set(xlabel="key step, its token below", ylabel="query step", xticks=range(10), yticks=range(10))
        ax.set_xticklabels([f"{t}\n{token}" for t, token in enumerate(sequence)], fontsize=7)
        ax.set_title(f"head {h}: weights for one sequence")
    print(f"first equals last: held-out accuracy {score:.1%}; sequence {sequence.tolist()}")
    print(f"weights of the last step on the first, per head: {[round(float(w[-1, 0]), 2) for w in weights]}")
    fig.suptitle("attention: why the scores are scaled (left), and what a trained head reads (right)")
    fig.savefig(path, format="png")
    print(f"written to {path}")


CNN_EPOCHS = 20


def inside_pictures(out: Path, epochs: int = CNN_EPOCHS, seed: int = 0) -> None:
    """The digits CNN trained as ``neuronet demo cnn`` trains it, and the pictures of what it learned; the ResNet
    demo's diagram."""
    X, y = nn.datasets.load_digits()
    split = train_val_test_split((X / 16).reshape(-1, 8, 8, 1), y, val_size=0.1, test_size=0.2, stratify=True, seed=0)
    (xt, yt), (xv, yv), (xs, ys) = split
    nn.set_seed(seed)
    model = demos.digits_cnn()
    model.compile(optimizer=nn.optimizers.Adam(0.003), metrics=["accuracy"])
    best = nn.callbacks.EarlyStopping(patience=epochs)  # the epoch of the lowest validation loss, as the demo
    model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), callbacks=[best], verbose=0)
    print(f"digits CNN, {epochs} epochs: test accuracy {accuracy(ys, model.predict(xs)):.1%}")
    conv = next(layer for layer in model.layers if isinstance(layer, nn.layers.Conv2D))
    nn.plot.conv_filters(conv, out / "cnn_filters.png")
    nn.plot.activation_maps(model, xs[0], out / "cnn_activations.png")
    nn.plot.saliency(model, xs[:8], out / "cnn_saliency.png")
    nn.plot.gradient_norms(model, xs[:256], ys[:256], out / "cnn_gradients.png")
    nn.plot.model_diagram(demos.digits_resnet(), out / "model_diagram.svg")
    names = ("cnn_filters.png", "cnn_activations.png", "cnn_saliency.png", "cnn_gradients.png", "model_diagram.svg")
    print(f"written to {', '.join(str(out / n) for n in names)}")


def main(out: Path) -> None:
    residual_gradients(out / "residual_gradients.png")
    attention_picture(out / "attention.png")
    inside_pictures(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
