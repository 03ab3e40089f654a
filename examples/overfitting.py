"""Overfitting, seen and then fought: a network too large for its data, and three cures.

    python examples/overfitting.py [--out overfitting/]

A wide network trained on only 150 noisy spiral points learns them almost
perfectly, bends its decision boundary around every stray point, and does
much worse on 600 new points from the same spiral: the gap between training
and validation is overfitting. Dropout, an L2 penalty and early stopping
each narrow it. The script prints training against validation accuracy and
cross-entropy for each model (the cross-entropy without the L2 penalty, so
the models compare fairly), and saves each model's training curves and
decision boundary as PNG files.

Early stopping keeps the weights of the epoch where the quantity it watches
was best (the "kept" column), so what it watches matters. It is run twice:
watching the validation loss and watching the validation accuracy. The two
need not agree: as a network grows confident, the cross-entropy of the few
points it gets wrong can rise while it gets more points right.
"""

from __future__ import annotations

import argparse
import os
import re

import neuronet as nn


def build(dropout: float = 0.0, l2: float = 0.0) -> nn.Sequential:
    """Two hidden layers of 256 neurons: far more capacity than 150 points need."""
    layers = []
    for n_in, n_out in ((2, 256), (256, 256)):
        layers.append(nn.layers.Dense(n_in, n_out, activation="relu", weight_regularizer_l2=l2))
        if dropout:
            layers.append(nn.layers.Dropout(dropout))
    layers.append(nn.layers.Dense(256, 3, activation="softmax", weight_regularizer_l2=l2))
    model = nn.Sequential(layers)
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
    return model


def early_stopping(monitor: str) -> nn.callbacks.EarlyStopping:
    """Stop once ``monitor`` has not improved for 30 epochs, and keep the weights of its best epoch."""
    return nn.callbacks.EarlyStopping(monitor=monitor, patience=30, restore_best_weights=True)


EXPERIMENTS = {
    "no cure": (build, lambda: []),
    "dropout 0.3": (lambda: build(dropout=0.3), lambda: []),
    "L2 1e-3": (lambda: build(l2=1e-3), lambda: []),
    "stop on val_loss": (build, lambda: [early_stopping("val_loss")]),
    "stop on val_acc": (build, lambda: [early_stopping("val_accuracy")]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="overfitting", help="folder for the pictures (default: ./overfitting)")
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    x_train, y_train = nn.datasets.spiral(50, 3, noise=0.3, seed=1)
    x_val, y_val = nn.datasets.spiral(200, 3, noise=0.3, seed=2)  # new points from the same spiral
    cross_entropy = nn.losses.CategoricalCrossentropy()
    print(f"{len(x_train)} training points, {len(x_val)} validation points, up to {args.epochs} epochs\n")
    print(
        f"{'model':<18}{'epochs':>7}{'kept':>6}{'train acc':>11}{'val acc':>9}{'gap':>7}{'train CE':>10}{'val CE':>8}"
    )
    for name, (make, make_callbacks) in EXPERIMENTS.items():
        nn.set_seed(0)
        model, callbacks = make(), make_callbacks()
        history = model.fit(
            x_train,
            y_train,
            epochs=args.epochs,
            batch_size=32,
            validation_data=(x_val, y_val),
            callbacks=callbacks,
            verbose=0,
        )
        kept = callbacks[0].best_epoch + 1 if callbacks else len(history.epoch)  # the epoch whose weights it ends with
        p_train, p_val = model.predict(x_train), model.predict(x_val)
        acc_train, acc_val = nn.metrics.accuracy(y_train, p_train), nn.metrics.accuracy(y_val, p_val)
        print(
            f"{name:<18}{len(history.epoch):>7}{kept:>6}{acc_train:>11.3f}{acc_val:>9.3f}{acc_train - acc_val:>7.3f}"
            f"{cross_entropy(p_train, y_train):>10.3f}{cross_entropy(p_val, y_val):>8.3f}"
        )
        stem = os.path.join(args.out, re.sub(r"[^a-z0-9]+", "_", name.lower()))
        nn.plot.training_curves(history, stem + "_curves.png")
        nn.plot.decision_boundary(
            model, x_train, y_train, stem + "_boundary.png", title=f"{name}: the class predicted, training points"
        )
    print("\nepochs: how many ran; kept: the epoch whose weights the model ends with (early stopping keeps its best)")
    print(f"pictures: {args.out}/*_curves.png (loss and accuracy per epoch), *_boundary.png (what each model learned)")


if __name__ == "__main__":
    main()
