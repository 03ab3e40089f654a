"""Hostile-input fuzzing: random bad calls to the public API, mutated model files, hostile CLI runs.

    python tests/fuzz.py                 # 3,000 API calls, 2,000 model files, 300 CLI runs
    python tests/fuzz.py --api 500 --files 300 --cli 60 --seed 1

Every case is sorted into one of these outcomes:

- clear:   refused with a ValueError/TypeError (ModelFileError, FileNotFoundError for files; one line
           and a non-zero exit for the CLI) whose message names what was wrong;
- unclear: refused, but with another exception (IndexError, RecursionError, a crash deep inside NumPy),
           a message that does not name the argument, or a traceback from the CLI;
- wrong:   accepted although it was invalid, or a file that loads with other numbers than were saved;
- hang:    (CLI) a run still going after CLI_SECONDS.

A warning that reaches the user of the CLI counts: it makes a valid run wrong, a refused one unclear.
A hostile table's error must name its line and column (and the trouble) to count as clear.

Graph models are in both: random small graphs (nn.Input, layers, merge layers, a layer called twice, self- and
cross-attention, positions) wired rightly, which must predict outputs of the shapes their nodes say and load
again to the same outputs, or with one mistake (shapes that do not fit, a merge of one node, a node of another
graph, a cycle, attention of the wrong size or on a list of one, a sequence longer than its positions, ...),
whose error must name the layer or the input; and three saved graph models (one of attention), mutated as
every file is and with their graphs rewritten (node numbers, calls, inputs, outputs).

Bit flips that change nothing the model uses (the padding of the file's header) load unchanged; they
are counted as ``unchanged``, and descriptions rewritten to other *valid* settings as ``valid``.
``tests/test_fuzz.py`` runs a small, seeded share of each on every test run; the figures in the
closing note of issue 9 come from the full run.

``--mpi N`` runs N two-rank jobs under mpiexec (skipped without mpi4py), each with ranks called
differently or a fault on one rank; a job still running after a wall-clock bound counts as ``hang``.
``tests/test_distributed.py`` runs a seeded share.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import inspect
import io
import json
import math
import numbers
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import safetensors.numpy

import neuronet as nn
from neuronet.cli import main as cli_main
from neuronet.interop import load_torch_state_dict
from neuronet.saving import FOREIGN_EXTENSIONS, read_model_file

L = nn.layers

# -- argument specifications: what a valid value is ----------------------------------------------
POOL = [None, True, False, 0, 1, -1, 2, 3, 2.5, 0.5, -0.5, 1.0, 1e308, -1e308, math.nan, math.inf, "8", "relu",
        "", [], [2, 2], (1, 2, 3), {}, 1 + 2j, 10**40, np.int64(3), np.float32(0.25), object()]  # fmt: skip


def is_int(v, low=None, high=2**31 - 1):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and (low is None or v >= low) and v <= high


def is_number(v, low=None, high=None, low_open=False, high_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return False
    if low is not None and (v <= low if low_open else v < low):
        return False
    return high is None or (v < high if high_open else v <= high)


def is_flag(v):
    return isinstance(v, (bool, np.bool_)) or (is_int(v) and v in (0, 1))


def spec_int(low=None):
    return lambda v: is_int(v, low)


def spec_int_or_pair(low=None):
    """An int, or (for 2-D layers) a pair of them."""
    return lambda v: is_int(v, low) or (isinstance(v, (list, tuple)) and len(v) == 2 and all(is_int(e, low) for e in v))


def spec_num(**limits):
    return lambda v: is_number(v, **limits)


def spec_optional(inner):
    return lambda v: v is None or inner(v)


def spec_choice(*choices):
    return lambda v: isinstance(v, str) and v in choices


FRACTION = spec_num(low=0.0, high=1.0, high_open=True)
POSITIVE = spec_num(low=0.0, low_open=True)
NON_NEGATIVE = spec_num(low=0.0)
ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "gelu", "silu", "elu", "selu", "softplus")
ACTIVATION = spec_optional(spec_choice(*ACTIVATION_NAMES))

VERBOSE = lambda v: is_flag(v) or (is_int(v) and 0 <= v <= 2)  # noqa: E731 -- fit's verbose
MONITOR = lambda v: isinstance(v, str) and bool(v.strip())  # noqa: E731
MODE = spec_choice("auto", "min", "max")


def is_file_path(v):
    """A file name to write: str, bytes or PathLike (never an int: a file descriptor), not empty, no NUL, no folder."""
    if not isinstance(v, (str, bytes, os.PathLike)):
        return False
    path = os.fsdecode(v)
    return bool(path) and "\x00" not in path and not os.path.isdir(path)


class _Logged(dict):
    def __missing__(self, key):
        return 1 if key == "epoch" else 0.0  # epochs are ints, logged values floats


def fills(v, logged: bool) -> bool:
    """Whether a path template fills in with {epoch} (and, if ``logged``, any logged value)."""
    try:
        os.fsdecode(v).format_map(_Logged() if logged else {"epoch": 1})
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return False
    return True


def is_schedule(v):
    """A function of (epoch) or (epoch, lr) whose signature says which (a built-in such as max has none)."""
    try:
        signature = inspect.signature(v)
    except (TypeError, ValueError):
        return False
    for arguments in ((0,), (0, 0.1)):
        try:
            signature.bind(*arguments)
            return True
        except TypeError:
            pass
    return False


# hostile values tried beside the POOL for arguments of these names (bytes and int paths, "no" for flags, ...)
FLAG_WORDS = ["no", "yes", "False", "0"]
EXTRA_VALUES = {
    "path": [b"out.nnet", b"\xff-out.nnet", Path("out.nnet"), 2, 0, -1, b"", "a\x00b.nnet", os.curdir,
             "m.onnx", b"m.keras", "m-{epoch.nnet", "m-{}.nnet", "m-{val_loss:02d}.nnet", "g-{step}.png",
             "m-{epoch:03d}-{val_loss:.3f}.nnet"],
    "separator": [";", "\t", ";;", '"', "\n", b",", "\r"],
    "schedule": [max, abs, len, lambda: 0.1, lambda e, lr, x: lr, lambda e, *, lr: lr, lambda *a: 0.1, "step"],
    "monitor": [" ", "val_loss", "accuracy"],
    "verbose": [*FLAG_WORDS, 3],
    **dict.fromkeys(["append", "save_best_only", "restore_best_weights", "return_sequences", "shuffle"], FLAG_WORDS),
}  # fmt: skip

# target: (callable, valid keyword arguments, {argument: validity}); an input size may be None (Dense(32): it
# comes from the layer's first input)
CONSTRUCTORS = {
    "Dense": (L.Dense, {"n_inputs": 4, "n_neurons": 3}, {
        "n_inputs": spec_optional(spec_int(1)), "n_neurons": spec_int(1), "activation": ACTIVATION,
        "weight_regularizer_l1": NON_NEGATIVE, "weight_regularizer_l2": NON_NEGATIVE,
        "bias_regularizer_l1": NON_NEGATIVE, "bias_regularizer_l2": NON_NEGATIVE,
        "weight_initializer": spec_choice("glorot_uniform", "he_normal", "small_normal", "zeros")}),
    "Conv2D": (L.Conv2D, {"in_channels": 1, "out_channels": 2, "kernel_size": 3}, {
        "in_channels": spec_optional(spec_int(1)), "out_channels": spec_int(1), "stride": spec_int_or_pair(1),
        "dilation": spec_int_or_pair(1), "kernel_size": spec_int_or_pair(1), "activation": ACTIVATION,
        "padding": lambda v: v in ("valid", "same") or (is_int(v, 0) and v <= 3)}),
    "Conv1D": (L.Conv1D, {"in_channels": 2, "out_channels": 2, "kernel_size": 2}, {
        "kernel_size": spec_int(1), "stride": spec_int(1), "dilation": spec_int(1),
        "in_channels": spec_optional(spec_int(1))}),
    "Conv2DTranspose": (L.Conv2DTranspose, {"in_channels": 2, "out_channels": 2, "kernel_size": 3, "stride": 2}, {
        "in_channels": spec_optional(spec_int(1)), "out_channels": spec_int(1), "kernel_size": spec_int_or_pair(1),
        "output_padding": lambda v: is_int(v, 0) and v <= 1, "activation": ACTIVATION,
        "padding": lambda v: v in ("valid", "same") or (is_int(v, 0) and v <= 3)}),
    "UpSampling2D": (L.UpSampling2D, {}, {
        "size": lambda v: is_int(v, 1, 64) or (isinstance(v, (list, tuple)) and len(v) == 2
                                               and all(is_int(e, 1, 64) for e in v)),
        "interpolation": spec_choice("nearest", "bilinear")}),
    "MaxPool2D": (L.MaxPool2D, {}, {"pool_size": spec_int_or_pair(1), "stride": spec_optional(spec_int_or_pair(1))}),
    "AvgPool1D": (L.AvgPool1D, {}, {"pool_size": spec_int(1), "stride": spec_optional(spec_int(1))}),
    "Embedding": (L.Embedding, {"vocab_size": 10, "embedding_dim": 3}, {
        "vocab_size": spec_int(1), "embedding_dim": spec_int(1),
        "padding_id": spec_optional(lambda v: is_int(v, 0) and v <= 9)}),
    "Dropout": (L.Dropout, {"rate": 0.1}, {"rate": FRACTION}),
    "SimpleRNN": (L.SimpleRNN, {"input_size": 3, "hidden_size": 2}, {
        "input_size": spec_optional(spec_int(1)), "hidden_size": spec_int(1), "activation": spec_choice("tanh", "relu"),
        "return_sequences": is_flag}),
    "LSTM": (L.LSTM, {"input_size": 3, "hidden_size": 2}, {
        "input_size": spec_optional(spec_int(1)), "hidden_size": spec_int(1), "return_sequences": is_flag,
        "unit_forget_bias": is_flag}),
    "GRU": (L.GRU, {"input_size": 3, "hidden_size": 2}, {"hidden_size": spec_int(1), "return_sequences": is_flag}),
    "Bidirectional": (L.Bidirectional, {"layer": L.GRU(3, 2)}, {
        "merge_mode": spec_choice("concat", "sum", "mul", "ave"),
        "layer": lambda v: isinstance(v, (L.SimpleRNN, L.LSTM, L.GRU))}),
    "BatchNormalization": (L.BatchNormalization, {"n_features": 3}, {
        "n_features": spec_optional(spec_int(1)), "momentum": FRACTION, "epsilon": POSITIVE}),
    "LeakyReLU": (L.LeakyReLU, {}, {"alpha": spec_num()}),
    "ELU": (L.ELU, {}, {"alpha": spec_num()}),
    "LayerNormalization": (L.LayerNormalization, {"n_features": 3}, {
        "n_features": spec_optional(spec_int(1)), "epsilon": POSITIVE}),
    "MultiHeadAttention": (L.MultiHeadAttention, {"embed_dim": 4, "num_heads": 2}, {
        "embed_dim": lambda v: is_int(v, 1) and v % 2 == 0, "num_heads": lambda v: is_int(v, 1) and 4 % v == 0,
        "dropout": FRACTION, "causal": is_flag}),
    "PositionalEmbedding": (L.PositionalEmbedding, {"max_length": 5, "embed_dim": 4}, {
        "max_length": spec_int(1), "embed_dim": spec_int(1), "sinusoidal": is_flag}),
    "TransformerEncoder": (L.TransformerEncoder, {"embed_dim": 4, "num_heads": 2, "ff_dim": 6}, {
        "embed_dim": lambda v: is_int(v, 1) and v % 2 == 0, "num_heads": lambda v: is_int(v, 1) and 4 % v == 0,
        "ff_dim": spec_int(1), "dropout": FRACTION, "activation": spec_choice(*ACTIVATION_NAMES),
        "norm_first": is_flag, "causal": is_flag}),
    "SparseDense": (L.SparseDense, {"n_inputs": 4, "n_neurons": 3}, {
        "density": spec_num(low=0.0, high=1.0, low_open=True)}),
    "GaussianNoise": (L.GaussianNoise, {"stddev": 0.1}, {"stddev": NON_NEGATIVE}),
    "RandomFlip": (L.RandomFlip, {}, {"mode": spec_choice("horizontal", "vertical", "horizontal_and_vertical")}),
    "RandomRotation": (L.RandomRotation, {"factor": 0.1}, {"factor": spec_num(low=0.0, high=1.0)}),
    "RandomZoom": (L.RandomZoom, {"factor": 0.1}, {"factor": FRACTION}),
    "RandomTranslation": (L.RandomTranslation, {"height_factor": 0.1}, {
        "height_factor": spec_num(low=0.0, high=1.0), "width_factor": spec_optional(spec_num(low=0.0, high=1.0))}),
    "SGD": (nn.optimizers.SGD, {}, {
        "learning_rate": POSITIVE, "momentum": FRACTION, "decay": NON_NEGATIVE,
        "clipnorm": spec_optional(POSITIVE), "clipvalue": spec_optional(POSITIVE)}),
    "Adam": (nn.optimizers.Adam, {}, {
        "learning_rate": POSITIVE, "beta_1": FRACTION, "beta_2": FRACTION, "epsilon": POSITIVE}),
    "RMSprop": (nn.optimizers.RMSprop, {}, {"rho": FRACTION, "epsilon": POSITIVE, "learning_rate": POSITIVE}),
    "Adagrad": (nn.optimizers.Adagrad, {}, {"initial_accumulator_value": NON_NEGATIVE, "epsilon": POSITIVE}),
    "AdamW": (nn.optimizers.AdamW, {}, {"weight_decay": NON_NEGATIVE}),
    "EarlyStopping": (nn.callbacks.EarlyStopping, {}, {
        "patience": spec_int(0), "min_delta": spec_num(), "restore_best_weights": is_flag, "mode": MODE,
        "monitor": MONITOR}),
    "ReduceLROnPlateau": (nn.callbacks.ReduceLROnPlateau, {}, {
        "factor": spec_num(low=0.0, high=1.0, low_open=True, high_open=True), "patience": spec_int(0),
        "cooldown": spec_int(0), "min_lr": NON_NEGATIVE, "min_delta": spec_num(), "mode": MODE,
        "monitor": MONITOR, "verbose": VERBOSE}),
    "ModelCheckpoint": (nn.callbacks.ModelCheckpoint, {"path": "ckpt.nnet"}, {
        "path": lambda v: is_file_path(v) and fills(v, logged=True)
                          and os.path.splitext(os.fsdecode(v))[1].lower() not in FOREIGN_EXTENSIONS,
        "monitor": MONITOR, "save_best_only": is_flag, "mode": MODE}),
    "LearningRateScheduler": (nn.callbacks.LearningRateScheduler, {"schedule": lambda epoch: 0.1}, {
        "schedule": is_schedule, "verbose": VERBOSE}),
    "CSVLogger": (nn.callbacks.CSVLogger, {"path": "log.csv"}, {
        "path": is_file_path, "append": is_flag,
        "separator": lambda v: isinstance(v, str) and len(v) == 1 and v not in '"\r\n'}),
    "SampleGrid": (nn.callbacks.SampleGrid, {"path": "grid.png"}, {
        "path": lambda v: is_file_path(v) and fills(v, logged=False), "every": spec_int(1), "n": spec_int(1),
        "cols": spec_int(1), "seed": spec_int(0)}),
    "StepDecay": (nn.schedules.StepDecay, {"initial": 0.1}, {"initial": NON_NEGATIVE, "every": spec_int(1)}),
    "CosineDecay": (nn.schedules.CosineDecay, {"initial": 0.1, "epochs": 5}, {"epochs": spec_int(1)}),
    "KFold": (nn.data.KFold, {}, {"n_splits": spec_int(2), "shuffle": is_flag}),
    "Tokenizer": (nn.text.Tokenizer, {}, {"num_words": spec_optional(spec_int(3)), "lower": is_flag}),
}  # fmt: skip


def _bad_targets():
    """Targets no classifier of 6 samples and 3 classes should take, with the words its error must hold."""
    return [
        (None, "None"),
        ({"a": 1}, "dict"),
        ([[0], [1, 2]] * 3, "ragged"),
        (np.ones(6) * 1j, "complex"),
        (np.array(["2026-01-01"] * 6, dtype="datetime64[D]"), "dates"),
        (np.array(["a", "b", "c"] * 2), "text"),
        (np.array([0, 1, np.nan, 0, 1, 2]), "NaN"),
        (np.zeros(5, int), "samples"),
        (np.zeros((), int), "single value"),
        (np.array([0, 1, 7, 0, 1, 2]), "labels must be in 0..2"),
        (np.array([0, 1, 0.5, 0, 1, 2]), "fractions"),
        (np.zeros((6, 2), int), "do not fit"),
        ([0, 1, None, 0, 1, 2], "None"),
    ]


def _bad_arrays(rng):
    """Inputs no model of 4 features should take: each with the words its error must hold."""
    return [
        (None, "None"),
        ({"a": 1}, "dict"),
        ([[1, 2, 3, 4], [1]], "ragged"),
        (np.ones((6, 4)) * 1j, "complex"),
        (np.array(["2026-01-01"] * 24, dtype="datetime64[D]").reshape(6, 4), "dates"),
        (np.full((6, 4), "a"), "text"),
        (np.full((6, 4), np.nan), "NaN"),
        (np.where(np.arange(24).reshape(6, 4) % 7 == 3, np.inf, 1.0), "infinite"),
        (np.full((6, 4), 1e39), "range"),
        (np.zeros((0, 4)), "empty"),
        (np.zeros(()), "batch"),
        (np.zeros((6, 5)), "shape"),
        ([[1, None, 3, 4]] * 6, "None"),
    ]


def _model():
    model = nn.Sequential([L.Dense(4, 8, activation="relu"), L.Dense(8, 3, activation="softmax")])
    model.compile(metrics=["accuracy"])
    return model


def _bad_uses():
    """Calls that give metrics, text tools, PyTorch weights and a schedule bad data, with the words their
    errors must hold: (what, call, words)."""
    classification = [nn.metrics.accuracy, nn.metrics.precision, nn.metrics.recall, nn.metrics.f1_score,
                      nn.metrics.confusion_matrix]  # fmt: skip
    anywhere = [([0, 1], [0.2, np.nan]), ([0, 1], [np.inf, 1.0]), ([0, 1], ["a", "b"]), ([0, 1], [[0, 1], [1]]),
                ([0, 1], [None, 1]), ([], []), ([0, 1, 1], [0, 1]), ([0, 1], np.array([1j, 0])), (5, 5),
                (None, [0, 1]), ([0, 1], {"a": 1})]  # fmt: skip
    as_labels = [
        ([0, 1, 2], [0.5, 1.5, 2.0]),
        ([0.5, 2.5, 1], [0, 1, 1]),
        ([0, 1], [1e300, 1.0]),
        ([0, 1], [-0.5, 0.5]),
    ]  # fmt: skip (neither labels nor probabilities, though numbers)
    uses = [(f"{f.__name__}{pair}", lambda f=f, pair=pair: f(*pair), ["y_true", "y_pred"])
            for f in [*classification, nn.metrics.mean_squared_error, nn.metrics.r2_score]
            for pair in anywhere + (as_labels if f in classification else [])]  # fmt: skip
    for texts in ["the cat sat", b"the cat", 5, None, ["a cat", 5], [None]]:
        uses.append((f"Tokenizer.fit({texts!r})", lambda t=texts: nn.text.Tokenizer().fit(t), ["texts"]))
        uses.append(
            (
                f"texts_to_sequences({texts!r})",
                lambda t=texts: nn.text.Tokenizer().fit(["a cat"]).texts_to_sequences(t),
                ["texts"],
            )
        )
    for ids in [
        [[1.7, 2.2], [-3]],
        [[1, 2], [-3]],
        [[1, np.nan]],
        [["a", "b"]],
        [[1, None]],
        [5],
        [[[1, 2]]],
        "abc",
        None,
        [[2**70]],
        [[1, np.inf]],
        [[True, -1]],
    ]:
        uses.append((f"pad_sequences({ids!r})", lambda i=ids: nn.text.pad_sequences(i), ["sequences"]))
    for key in ["dense.weight", "dense.bias"]:
        for bad in [np.nan, np.inf, -np.inf, "w", None]:

            def load(key=key, bad=bad):
                model = nn.Sequential([L.Dense(3, 2)])
                state = {"dense.weight": np.zeros((2, 3)), "dense.bias": np.zeros(2)}
                state[key] = np.full(state[key].shape, bad, dtype=object if bad in ("w", None) else float)
                load_torch_state_dict(model, state)

            uses.append((f"load_torch_state_dict({key}={bad!r})", load, [key]))
    for bad in [np.zeros((8, 4)), np.zeros((4, 12)), np.zeros(12), np.zeros((12, 4, 1)), np.full((12, 4), np.nan),
                np.full((12, 4), "w", dtype=object)]:  # fmt: skip

        def load_attention(bad=bad):
            model = nn.Sequential([L.MultiHeadAttention(4, 2)])
            state = {f"multi_head_attention.{k}": np.zeros(shape) for k, shape in (
                ("in_proj_bias", 12), ("out_proj.weight", (4, 4)), ("out_proj.bias", 4))}  # fmt: skip
            load_torch_state_dict(model, state | {"multi_head_attention.in_proj_weight": bad})

        uses.append((f"load_torch_state_dict(in_proj_weight of {bad.shape})", load_attention, ["in_proj_weight"]))
    uses.append(("load_torch_state_dict(a list)",
                 lambda: load_torch_state_dict(nn.Sequential([L.Dense(3, 2)]), [np.zeros((2, 3))]),
                 ["state_dict"]))  # fmt: skip
    for value in POOL:
        if is_number(value, low=0.0):
            continue  # a fine rate (a warm-up starts at 0)

        def schedule_gives(value=value):
            X, y = np.zeros((4, 4)), np.zeros(4, int)
            sched = nn.callbacks.LearningRateScheduler(lambda epoch: value)
            _model().fit(X, y, epochs=1, callbacks=[sched], verbose=0)

        uses.append((f"a schedule giving {value!r}", schedule_gives, ["schedule"]))
    return uses


def _valid_use(rng):
    """A call that must work and give the right answer: (what, check returning whether it did)."""
    kind = rng.integers(3)
    if kind == 0:  # labels spelled as whole floats score as the same labels as ints
        k, n = int(rng.integers(2, 5)), int(rng.integers(1, 30))
        t, p = rng.integers(0, k, n), rng.integers(0, k, n)
        f = [nn.metrics.accuracy, nn.metrics.f1_score, nn.metrics.confusion_matrix][rng.integers(3)]
        kwargs = {"average": "macro"} if f is nn.metrics.f1_score else {}
        return f"{f.__name__} of whole floats", lambda: np.array_equal(
            f(t.astype(float), p.astype(np.float32), **kwargs), f(t, p, **kwargs)
        )
    if kind == 1:  # a factor of -0.0 is 0.0: the same draws and outputs as the layer given +0.0
        cls, negative, positive = [(L.RandomZoom, (-0.0,), (0.0,)), (L.RandomRotation, (-0.0,), (0.0,)),
                                   (L.RandomTranslation, (-0.0,), (0.0,)),
                                   (L.RandomTranslation, (0.1, -0.0), (0.1, 0.0)),
                                   (L.RandomTranslation, (-0.0, 0.1), (0.0, 0.1)),
                                   (L.GaussianNoise, (-0.0,), (0.0,))][rng.integers(6)]  # fmt: skip
        x = rng.random((2, 5, 5, 1)).astype(np.float32)

        def same_as_zero():
            outputs = []
            for args in (negative, positive):
                nn.set_seed(7)
                outputs.append(cls(*args).forward(x, training=True))
            return np.array_equal(*outputs)

        return f"{cls.__name__}{negative}", same_as_zero
    ids = [list(rng.integers(0, 9, int(rng.integers(0, 5)))) for _ in range(3)]
    return "pad_sequences of whole floats", lambda: np.array_equal(
        nn.text.pad_sequences([np.array(i, float) for i in ids]), nn.text.pad_sequences(ids)
    )


# -- graph models: random small graphs, wired rightly or with one mistake ---------------------------------
ELEMENT_WISE = [L.Add, L.Subtract, L.Multiply, L.Average]


def _input_node(rng):
    """An nn.Input (a vector, an image, a sequence, or token ids) and the node a graph reads it as (an ids input
    through an Embedding)."""
    kind = rng.integers(4)
    if kind == 0:
        x = nn.Input(shape=(int(rng.integers(2, 7)),))
    elif kind == 1:
        x = nn.Input(shape=(int(rng.integers(4, 7)), int(rng.integers(4, 7)), int(rng.integers(1, 3))))
    elif kind == 2:  # (now and then of a free length: None)
        x = nn.Input(shape=(None if rng.integers(3) == 0 else int(rng.integers(2, 5)), int(rng.integers(2, 5))))
    else:
        x = nn.Input(shape=(int(rng.integers(2, 6)),), dtype="int64")
        return x, L.Embedding(10, int(rng.integers(2, 5)))(x)
    return x, x


def _partner(a, rng, pool):
    """A node of the shape of ``a``, for an element-wise merge: another such node of the graph, or one made (two
    nodes of a free length need not have the same: a Conv1D shortens a sequence)."""
    same = [p for p in pool if p is not a and p.shape == a.shape and None not in a.shape[1:]]
    return same[rng.integers(len(same))] if same and rng.integers(2) else L.Dense(a.shape[-1])(a)


def _grown(a, rng, pool, denses):
    """The node of one more layer called on ``a`` (shapes that fit)."""
    rank, step = len(a.shape) - 1, rng.integers(6)
    fits = [d for d in denses if d.n_inputs == a.shape[-1]]
    if step == 0 and fits:  # a layer called again: shared
        return fits[rng.integers(len(fits))](a)
    if step == 1:
        cls = [*ELEMENT_WISE, L.Concatenate][rng.integers(5)]
        b = _partner(a, rng, pool) if cls is not L.Concatenate else L.Dense(int(rng.integers(1, 5)))(a)
        return cls()([a, b] if cls is L.Subtract or rng.integers(2) else [a, b, a])
    if step == 2 and rank == 3:
        return [L.Conv2D(int(rng.integers(1, 4)), 3, padding="same", activation="relu"), L.MaxPool2D(2),
                L.UpSampling2D(2), L.Flatten()][rng.integers(4)](a)  # fmt: skip
    if step == 2 and rank == 2 and rng.integers(3) == 0:
        return _attended(a, rng, pool)
    if step == 2 and rank == 2:
        cell = [L.SimpleRNN, L.LSTM, L.GRU][rng.integers(3)]
        conv = L.Conv1D(2, 2) if a.shape[1] is None or a.shape[1] >= 2 else L.Dropout(0.1)
        return [cell(int(rng.integers(1, 4)), return_sequences=bool(rng.integers(2))), L.GlobalAvgPool1D(),
                conv][rng.integers(3)](a)  # fmt: skip
    if step == 3:
        flat = rank > 1 and None not in a.shape[1:]  # (a free axis flattened leaves no size for a Dense)
        return [L.BatchNormalization(), L.LayerNormalization(), L.Dropout(0.2), L.LeakyReLU(), L.GELU(),
                L.Flatten() if flat else L.Dropout(0.1)][rng.integers(6)](a)  # fmt: skip
    width = int(rng.integers(1, 6))
    dense = L.Dense(a.shape[-1], width) if rng.integers(2) else L.Dense(width)  # both spellings
    denses.append(dense)
    return dense(a)


def _heads(features: int, rng) -> int:
    """A number of heads that divides ``features``."""
    divisors = [h for h in range(1, features + 1) if features % h == 0]
    return divisors[rng.integers(len(divisors))]


def _attended(a, rng, pool):
    """The node of positions or attention on the sequence ``a``: a PositionalEmbedding with room for its steps
    (FREE on a free axis), self-attention, or cross-attention on [a, b] or [a, key, b] with a sequence ``b`` of
    the graph (of its own length) brought to a's features; now and then causal."""
    features, kind = a.shape[-1], rng.integers(3)
    if kind == 0:
        room = (a.shape[1] or FREE) + int(rng.integers(3))
        return L.PositionalEmbedding(room, features, sinusoidal=bool(rng.integers(2)))(a)
    attention = L.MultiHeadAttention(features, _heads(features, rng), causal=bool(rng.integers(2)))
    if kind == 1:
        if rng.integers(2):  # the whole block: attention and a feed-forward network, each with its residual
            block = L.TransformerEncoder(features, _heads(features, rng), int(rng.integers(1, 9)), dropout=0.0,
                                         norm_first=bool(rng.integers(2)), causal=bool(rng.integers(2)))  # fmt: skip
            return block(a)
        return attention(a)
    sequences = [p for p in pool if len(p.shape) == 3]
    b = sequences[rng.integers(len(sequences))]
    b = b if b.shape[-1] == features else L.Dense(features)(b)
    return attention([a, b] if rng.integers(2) else [a, L.Dense(features, activation="tanh")(b), b])


def _attention_fault(a, rng, shown):
    """Attention or positions built wrongly on the node ``a`` (what, call, the words its error must hold):
    embed_dim other than a's features, a list of one or four, a key and a value of different lengths, positions
    for fewer steps than a has, or a sequence longer than the positions at predict."""
    features, kind = a.shape[-1], rng.integers(5)
    fixed = len(a.shape) == 3 and a.shape[1] is not None
    if kind == 0:
        dim = features + 1 + int(rng.integers(3))
        return (f"{shown}: MultiHeadAttention({dim}, 1) on {a}", lambda: L.MultiHeadAttention(dim, 1)(a),
                ["'multi_head_attention' (MultiHeadAttention) does not fit"])  # fmt: skip
    if kind == 1:
        listed = [a] if rng.integers(2) else [a, a, a, a]
        return (f"{shown}: MultiHeadAttention on a list of {len(listed)}",
                lambda: L.MultiHeadAttention(features, 1)(listed), ["(MultiHeadAttention) does not fit"])  # fmt: skip
    if kind == 2:
        key, value = nn.Input(shape=(3, features)), nn.Input(shape=(4, features))
        return (f"{shown}: [query, key, value] of lengths 3 and 4", lambda: L.MultiHeadAttention(features, 1)(
            [a, key, value]), ["(MultiHeadAttention) does not fit"])  # fmt: skip
    if kind == 3 and fixed:
        room = int(rng.integers(1, a.shape[1])) if a.shape[1] > 1 else None
        if room is not None:
            return (f"{shown}: PositionalEmbedding({room}, ...) on {a}",
                    lambda: L.PositionalEmbedding(room, features)(a), ["max_length"])  # fmt: skip
    x = nn.Input(shape=(None, features))
    model = nn.Model(x, L.MultiHeadAttention(features, _heads(features, rng))(L.PositionalEmbedding(3, features)(x)))
    steps = int(rng.integers(4, 9))
    return (f"a sequence of {steps} steps for positions of 3", lambda: model.predict(np.zeros((2, steps, features))),
            ["max_length=3"])  # fmt: skip


def _random_graph(rng):
    """A small graph, wired rightly: its inputs, its outputs (every input reaches one), every node, its Dense
    layers."""
    ins, entries = zip(*[_input_node(rng) for _ in range(1 + rng.integers(2))])
    pool, denses = [e for e in entries], []
    for _ in range(1 + rng.integers(4)):
        pool.append(_grown(pool[rng.integers(len(pool))], rng, pool, denses))
    outs = [pool[-1]] if not pool[-1].is_input else []
    reached, stack = set(), list(outs)
    while stack:
        node = stack.pop()
        if id(node) not in reached:
            reached.add(id(node))
            stack.extend(node.parents)
    outs += [L.Dense(2)(e) for x, e in zip(ins, entries) if id(x) not in reached]  # (an input no output read)
    if rng.integers(4) == 0:  # a node read by a layer, or an output already, as an output besides
        outs.append([n for n in pool if not n.is_input][rng.integers(len(pool) - len(ins))])
    return list(ins), outs, pool, denses


FREE = 4  # the length data takes on a free axis


def _graph_data(inputs, rng, n=3):
    shapes = [(n, *(FREE if d is None else d for d in x.shape[1:])) for x in inputs]
    return [rng.integers(0, 10, s) if x.dtype else rng.standard_normal(s) for x, s in zip(inputs, shapes)]


def _graph_works(ins, outs, rng) -> bool:
    """Whether the model of a rightly wired graph predicts finite outputs of the shapes its nodes said, and the
    same after a save and a load."""
    several_in, several_out = len(ins) > 1 or rng.integers(4) == 0, len(outs) > 1 or rng.integers(4) == 0
    model = nn.Model(ins if several_in else ins[0], outs if several_out else outs[0])
    xs = _graph_data(ins, rng)
    given = xs if several_in else xs[0]
    ys = model.predict(given)
    ys = ys if several_out else [ys]
    fit = [
        len(y.shape) == len(o.shape) and all(d in (None, e) for d, e in zip(o.shape[1:], y.shape[1:]))
        for y, o in zip(ys, outs)
    ]  # fmt: skip (a free axis, None, may come out of any length)
    if not all(fit) or not all(np.isfinite(y).all() for y in ys):
        return False
    with tempfile.TemporaryDirectory() as folder:
        model.save(os.path.join(folder, "graph.nnet"))
        loaded = nn.load_model(os.path.join(folder, "graph.nnet"))
    again = loaded.predict(given)
    return all(np.array_equal(a, b) for a, b in zip(again if several_out else [again], ys))


def _is_shape(v) -> bool:
    return isinstance(v, (list, tuple)) and 1 <= len(v) <= 16 and all(d is None or is_int(d, 1) for d in v)


def _is_number_type(v) -> bool:
    if v is None:
        return True
    if isinstance(v, np.generic) or (isinstance(v, str) and not v.strip()):
        return False  # (NumPy reads the number np.int64(3), and "", as types)
    try:
        return np.dtype(v).kind in "fiu"
    except (TypeError, ValueError):
        return False


def _graph_case(rng):
    """A graph built rightly ("valid": what, check) or with one mistake (what, call, the words its error must
    hold); None where the mistake drawn is no mistake (a valid value for nn.Input)."""
    ins, outs, pool, denses = _random_graph(rng)
    fault = rng.integers(17)
    if fault <= 1:
        return "a graph wired rightly", lambda: _graph_works(ins, outs, rng), None
    a = pool[rng.integers(len(pool))]
    shown = f"a graph of {len(pool)} nodes"
    if fault == 2:
        return (
            f"{shown}: Dense({a.shape[-1] + 1}, 2) on {a}",
            lambda: L.Dense(a.shape[-1] + 1, 2)(a),
            ["'dense' (Dense) does not fit"],
        )
    if fault == 3:
        cls = ELEMENT_WISE[rng.integers(4)]
        b = L.Dense(a.shape[-1] + 1)(a)
        return (
            f"{shown}: {cls.__name__} of {a.shape} and {b.shape}",
            lambda: cls()([a, b]),
            [f"'{cls.default_name}' ({cls.__name__}) does not fit"],
        )
    if fault == 4:
        fixed = len(a.shape) > 2 and a.shape[1] is not None
        other = [a.shape[1] + 1, *a.shape[2:]] if fixed else [*a.shape[1:], 2]  # (another size, or another rank)
        b = nn.Input(shape=other)
        return (
            f"{shown}: Concatenate of {a.shape} and {b.shape}",
            lambda: L.Concatenate()([a, b]),
            ["'concatenate' (Concatenate) does not fit"],
        )
    if fault == 5:
        cls = [*ELEMENT_WISE, L.Concatenate][rng.integers(5)]
        one = a if rng.integers(2) else [a]
        return f"{shown}: {cls.__name__} of one node", lambda: cls()(one), [f"'{cls.default_name}' ({cls.__name__})"]
    if fault == 6:
        return f"{shown}: Dense on a list", lambda: L.Dense(2)([a, a]), ["'dense' (Dense) takes one node"]
    if fault == 7 and denses:
        dense = denses[rng.integers(len(denses))]
        c = a if a.shape[-1] != dense.n_inputs else L.Dense(dense.n_inputs + 1)(a)
        return (
            f"{shown}: a shared Dense({dense.n_inputs}, ...) on {c}",
            lambda: dense(c),
            ["'dense' (Dense) does not fit"],
        )
    if fault == 8:  # an input that is not among the model's
        stray = L.Dense(2)(nn.Input(shape=(3,)))
        return f"{shown}: an output of another graph", lambda: nn.Model(ins, [*outs, stray]), ["(Dense) reads nn.Input"]
    if fault == 9:
        return (
            f"{shown}: an input no output uses",
            lambda: nn.Model([*ins, nn.Input(shape=(3,))], outs),
            ["reaches none of the outputs"],
        )
    if fault == 10:
        return f"{shown}: an input as an output", lambda: nn.Model(ins, [*outs, ins[-1]]), ["is an input itself"]
    if fault == 11:
        twice = [*ins, ins[0]] if rng.integers(2) else [*ins, outs[0]]
        return f"{shown}: inputs {twice}", lambda: nn.Model(twice, outs), ["same nn.Input", "is a layer's output"]
    if fault == 12:
        v = POOL[rng.integers(len(POOL))]
        where = rng.integers(3)
        given = [(v, outs), (ins, v), (ins, [*outs, v])][where]
        return f"{shown}: nn.Model with {v!r} at {where}", lambda: nn.Model(*given), ["must be nodes"]
    if fault == 13:  # a cycle, forged: one node of the output's past made to read the output
        past = [n for n in pool if not n.is_input and n in _ancestry(outs[0])]
        node = past[rng.integers(len(past))]
        node.parents = (outs[0], *node.parents[1:])
        return f"{shown}: a cycle through {node}", lambda: nn.Model(ins, outs), ["cycle: layer '"]
    if fault == 15:
        return _attention_fault(a, rng, shown)
    if fault == 14:  # a graph that grows past what a model may make of one sample
        x = nn.Input(shape=(int(rng.integers(2, 5)), int(rng.integers(2, 5)), 1))
        y = x
        while math.prod(y.shape[1:]) <= 2**26:
            y = L.UpSampling2D(int(rng.integers(2, 9)))(y)
        return f"{shown}: upsampled to {y.shape}", lambda: nn.Model(x, y), ["values in a layer (layer '"]
    v = POOL[rng.integers(len(POOL))]
    if rng.integers(2):
        return None if _is_shape(v) else (f"nn.Input(shape={v!r})", lambda: nn.Input(shape=v), ["Input shape"])
    return None if _is_number_type(v) else (f"nn.Input(dtype={v!r})", lambda: nn.Input((3,), dtype=v), ["dtype"])


def _ancestry(node) -> list:
    """``node`` and every node it is computed from."""
    seen, stack = [], [node]
    while stack:
        n = stack.pop()
        if all(n is not s for s in seen):
            seen.append(n)
            stack.extend(n.parents)
    return seen


METHOD_ARGS = {
    "epochs": spec_int(0),
    "batch_size": spec_int(1),
    "validation_split": FRACTION,
    "shuffle": is_flag,
    "verbose": lambda v: is_flag(v) or (is_int(v) and 0 <= v <= 2),
}


FAILURES: list[str] = []  # what went unclear or wrong, for a person to read (--show)


def _note(outcome: str, what: str) -> str:
    if outcome in ("unclear", "wrong", "hang"):
        FAILURES.append(f"{outcome}: {what}")
    return outcome


def _classify(call, what: str, words: list[str]) -> str:
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            call()
    except (ValueError, TypeError) as exc:
        named = any(w.lower() in str(exc).lower() for w in words)
        return _note("clear" if named else "unclear", f"{what}: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 -- any other failure is what this harness looks for
        return _note("unclear", f"{what}: {type(exc).__name__}: {exc}")
    return _note("wrong", f"{what}: accepted")


def fuzz_api(cases: int, rng) -> Counter:
    """Random calls, each with one invalid argument (constructors and callbacks, fit/predict/evaluate, data,
    metrics and text tools, graph models wired wrongly), and now and then a valid call whose answer is checked
    (a rightly wired graph model must predict and load again)."""
    outcomes, tried = Counter(), 0
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    uses = _bad_uses()
    while tried < cases:
        kind = rng.integers(5)
        if kind == 0:  # a constructor with one bad setting
            target = list(CONSTRUCTORS)[rng.integers(len(CONSTRUCTORS))]
            make, base, specs = CONSTRUCTORS[target]
            arg = list(specs)[rng.integers(len(specs))]
            values = POOL + EXTRA_VALUES.get(arg, [])
            value = values[rng.integers(len(values))]
            if specs[arg](value):
                continue  # a valid value: not a bad call
            kwargs = {**base, arg: value}
            outcome = _classify(lambda make=make, kwargs=kwargs: make(**kwargs), f"{target}({arg}={value!r})", [arg])
        elif kind == 1:  # fit/predict/evaluate with one bad setting
            arg = list(METHOD_ARGS)[rng.integers(len(METHOD_ARGS))]
            values = POOL + EXTRA_VALUES.get(arg, [])
            value = values[rng.integers(len(values))]
            if METHOD_ARGS[arg](value):
                continue
            method = "fit" if arg != "batch_size" else ["fit", "predict", "evaluate"][rng.integers(3)]
            kwargs = {arg: value} if method == "fit" else {"batch_size": value}
            kwargs |= {"epochs": 1} if method == "fit" and arg != "epochs" else {}
            if method == "fit":
                kwargs.setdefault("verbose", 0)

            def call(method=method, kwargs=kwargs):
                model = _model()
                args = (X,) if method == "predict" else (X, y)
                getattr(model, method)(*args, **kwargs)

            outcome = _classify(call, f"{method}({arg}={value!r})", [arg])
        elif kind == 3 and rng.random() < 0.2:  # metrics, text tools, augmentation: a valid call, a right answer
            what, check = _valid_use(rng)
            try:
                outcome = "valid" if check() else _note("wrong", f"{what}: another answer")
            except Exception as exc:  # noqa: BLE001
                outcome = _note("unclear", f"{what}: {type(exc).__name__}: {exc}")
        elif kind == 3:  # bad data for metrics, text tools, PyTorch weights, a schedule
            what, call, words = uses[rng.integers(len(uses))]
            outcome = _classify(call, what, words)
        elif kind == 4:  # a graph model, built rightly or with one mistake
            case = _graph_case(rng)
            if case is None:
                continue  # a valid value for nn.Input: not a bad call
            what, call, words = case
            if words is not None:
                outcome = _classify(call, what, words)
            else:
                try:
                    outcome = "valid" if call() else _note("wrong", f"{what}: other outputs or shapes")
                except Exception as exc:  # noqa: BLE001
                    outcome = _note("unclear", f"{what}: {type(exc).__name__}: {exc}")
        else:  # bad data where X, y, validation data or token ids go
            where = rng.integers(5)
            choices = _bad_targets() if where == 2 else _bad_arrays(rng)
            bad, words = choices[rng.integers(len(choices))]

            def call(bad=bad, where=where):
                model = _model()
                if where == 0:
                    model.fit(bad, y, verbose=0)
                elif where == 1:
                    model.predict(bad)
                elif where == 2:
                    model.fit(X, bad, verbose=0)
                elif where == 3:
                    model.fit(X, y, validation_data=(bad, y), verbose=0)
                else:
                    text = nn.Sequential([L.Embedding(10, 2), L.Flatten(), L.Dense(8, 2)])
                    text.predict(bad)

            outcome = _classify(
                call, f"data {words} at {where}", [words, "X", "y", "token", "samples", "shape", "targets"]
            )
        outcomes[outcome] += 1
        tried += 1
    return outcomes


# -- model files ---------------------------------------------------------------------------------
def _saved_models(folder: str) -> list[tuple[str, nn.Sequential, np.ndarray]]:
    """A dense, a convolutional and a text model, trained a little and saved, with inputs to predict on."""
    rng = np.random.default_rng(0)
    dense = nn.Sequential([L.Dense(4, 6, activation="relu"), L.Dropout(0.1), L.BatchNormalization(6),
                           L.Dense(6, 3, activation="softmax")])  # fmt: skip
    conv = nn.Sequential([L.Conv2D(1, 2, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Flatten(),
                          L.Dense(8, 2, activation="softmax")], input_shape=(4, 4, 1))  # fmt: skip
    text = nn.Sequential([L.Embedding(12, 3, padding_id=0), L.Conv1D(3, 4, 2), L.GlobalMaxPool1D(),
                          L.Dense(4, 2, activation="softmax")])  # fmt: skip
    recurrent = nn.Sequential([L.Embedding(12, 3, padding_id=0), L.Bidirectional(L.LSTM(3, 2, return_sequences=True)),
                               L.GRU(4, 2), L.Dense(2, 2, activation="softmax")])  # fmt: skip
    out = []
    for name, model, x, k in (
        ("dense", dense, rng.standard_normal((16, 4)), 3),
        ("conv", conv, rng.standard_normal((16, 4, 4, 1)), 2),
        ("text", text, rng.integers(0, 12, (16, 5)), 2),
        ("recurrent", recurrent, rng.integers(0, 12, (16, 5)), 2),
    ):
        model.compile(metrics=["accuracy"])
        model.fit(x, rng.integers(0, k, 16), epochs=2, batch_size=8, verbose=0)
        model.metadata = {"task": "classification", "scaler": {"mean": [0.0] * 4, "std": [1.0] * 4}}
        path = os.path.join(folder, f"{name}.nnet")
        model.save(path)
        out.append((path, model, x))
    return out


def _saved_graph_models(folder: str) -> list[tuple[str, nn.Model, list | np.ndarray]]:
    """Three graph models, trained a little and saved, with inputs to predict on: a residual block with
    BatchNormalization; an image and token ids in, a class and a number out, through a layer used twice; two
    sequences of token ids through positions, causal self-attention and cross-attention."""
    rng = np.random.default_rng(1)
    x = nn.Input(shape=(6,))
    h = L.BatchNormalization()(L.Add()([x, L.Dense(6)(L.Dense(8, activation="relu")(x))]))
    residual = nn.Model(x, L.Dense(3, activation="softmax")(h))
    residual.compile(metrics=["accuracy"])
    image, ids = nn.Input(shape=(4, 4, 1)), nn.Input(shape=(5,), dtype="int64", name="ids")
    seen = L.Flatten()(L.MaxPool2D(2)(L.UpSampling2D(2)(L.Conv2D(2, 3, padding="same", activation="relu")(image))))
    shared = L.Dense(3, activation="tanh")
    once = shared(L.GlobalAvgPool1D()(L.Embedding(12, 3, padding_id=0)(ids)))
    twice = shared(once)
    outputs = [
        L.Dense(2, activation="softmax")(L.Concatenate()([seen, twice])),
        L.Dense(1)(L.Subtract()([once, twice])),
    ]
    two = nn.Model([image, ids], outputs)
    two.compile(loss=["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5], metrics=[["accuracy"], []])
    tokens, memory = nn.Input(shape=(6,), dtype="int64", name="tokens"), nn.Input(shape=(5,), dtype="int64")
    h = L.PositionalEmbedding(8, 4)(L.Embedding(12, 4, padding_id=0)(tokens))
    h = L.LayerNormalization()(L.Add()([h, L.MultiHeadAttention(4, 2, dropout=0.1, causal=True)(h)]))
    m = L.PositionalEmbedding(5, 4, sinusoidal=True)(L.Embedding(12, 4, padding_id=0)(memory))
    h = L.Add()([h, L.MultiHeadAttention(4, 1)([h, m])])
    h = L.TransformerEncoder(4, 2, 6, dropout=0.1, activation="gelu", norm_first=True)(h)
    attention = nn.Model([tokens, memory], L.Dense(2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    attention.compile(metrics=["accuracy"])
    out = []
    for name, model, x, y in (
        ("residual", residual, rng.standard_normal((16, 6)), rng.integers(0, 3, 16)),
        ("two", two, [rng.standard_normal((16, 4, 4, 1)), rng.integers(1, 12, (16, 5))],
         [rng.integers(0, 2, 16), rng.standard_normal((16, 1))]),
        ("attention", attention, [rng.integers(0, 12, (16, 6)), rng.integers(0, 12, (16, 5))], rng.integers(0, 2, 16)),
    ):  # fmt: skip
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        model.metadata = {"task": name}
        path = os.path.join(folder, f"graph-{name}.nnet")
        model.save(path)
        out.append((path, model, x))
    return out


def _graph_rewritten(description: dict, rng) -> str:
    """The JSON of a graph model's description with one hostile change to its graph: a node number, the nodes or
    layer of a call, calls removed, repeated or reversed, the outputs, an input's shape, dtype or name, inputs
    removed or repeated, several_inputs or several_outputs, a layer no call uses."""
    d = copy.deepcopy(description)
    graph = d["model"]["graph"]
    calls, inputs, outputs = graph["calls"], graph["inputs"], graph["outputs"]
    count = len(inputs) + len(calls)
    numbers = [-1, 0, count - 1, count, count + 5, 10**12, True, "0", 0.5, None, []]
    call, spec = calls[rng.integers(len(calls))], inputs[rng.integers(len(inputs))]
    change = rng.integers(10)
    if change == 0:
        call["inputs"][rng.integers(len(call["inputs"]))] = numbers[rng.integers(len(numbers))]
    elif change == 1:
        sources = call["inputs"]
        call["inputs"] = [[], sources[:1], sources * 2, [*sources, 0], sources[::-1], sources[0]][rng.integers(6)]
    elif change == 2:
        call["layer"] = [*numbers, int(rng.integers(len(d["model"]["layers"])))][rng.integers(len(numbers) + 1)]
    elif change == 3:
        j = int(rng.integers(len(calls)))
        [calls.pop, lambda j: calls.insert(j, copy.deepcopy(calls[j])), lambda j: calls.reverse()][rng.integers(3)](j)
    elif change == 4:
        graph["outputs"] = [[], [0], [count - 1] * 2, [*outputs, count - 2], outputs[::-1], [count], count - 1, None,
                            [count - 1.0]][rng.integers(9)]  # fmt: skip
    elif change == 5:
        shape = spec["shape"]
        spec["shape"] = [[10**9], [0], [], [None], [None] * len(shape), [2 * s for s in shape], [1] * 17,
                         [10**5, 10**5], ["5"], [5.0], [True], shape[:-1], [*shape, 1], [2**31], shape[::-1],
                         [3, 3, 3, 10**4]][rng.integers(16)]  # fmt: skip
    elif change == 6:
        key, values = [("dtype", ["str", "bool", "int64", "float16", None, 5, {}, "", "complex64", "float64", "V8"]),
                       ("name", [3, None, "", "x" * 1000, ["a"]])][rng.integers(2)]  # fmt: skip
        spec[key] = values[rng.integers(len(values))]
    elif change == 7:
        j = int(rng.integers(len(inputs)))
        [inputs.pop, lambda j: inputs.insert(j, copy.deepcopy(inputs[j])), lambda j: inputs.clear()][rng.integers(3)](j)
    elif change == 8:
        graph[["several_inputs", "several_outputs"][rng.integers(2)]] = [True, False, None, 1, "yes", []][
            rng.integers(6)
        ]
    else:
        d["model"]["layers"].append({"class": "Dropout", "name": "unused", "config": {"rate": 0.5}})
    return json.dumps(d)


def _inputs_of(model, x):
    """Data for a loaded graph model's inputs as they are now (a rewrite may change their shapes or types): the
    data it was saved with, cut or repeated to those shapes (a free axis keeps its length)."""
    given = x if isinstance(x, list) else [x]
    data = []
    for k, node in enumerate(model.graph.inputs):
        source = given[min(k, len(given) - 1)]
        shape = [
            source.shape[a + 1] if d is None and a + 1 < source.ndim else d or 3 for a, d in enumerate(node.shape[1:])
        ]
        data.append(np.resize(source, (len(source), *shape)).astype(node.dtype or source.dtype))
    return data if model.several_inputs else data[0]


def _says(described, loaded) -> bool:
    """Whether a loaded model's config holds all that a file ``described`` (a key the file leaves out may take
    its default): nothing the file said dropped or read as something else (1 as true, "no" as true)."""
    if isinstance(described, dict):
        return isinstance(loaded, dict) and all(k in loaded and _says(v, loaded[k]) for k, v in described.items())
    if isinstance(described, list):
        return isinstance(loaded, list) and len(described) == len(loaded) and all(map(_says, described, loaded))
    return type(described) is type(loaded) and described == loaded


def _same(a: nn.Sequential, b: nn.Sequential) -> bool:
    return (
        a.get_config() == b.get_config()
        and a.metadata == b.metadata
        and all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    )


def _rewritten(description: dict, rng) -> str:
    """The description's JSON with one value replaced, one key removed, or its shape changed."""
    d = copy.deepcopy(description)
    containers = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("checksums", "format", "format_version"):
                    containers.append((node, key))
                    walk(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                containers.append((node, i))
                walk(value)

    walk(d["model"])
    walk(d["metadata"])
    node, key = containers[rng.integers(len(containers))]
    action = rng.integers(4)
    if action == 0 and isinstance(node, dict):
        del node[key]
    elif action == 1:
        node[key] = [node[key]] if rng.integers(2) else {"x": node[key]}
    else:
        node[key] = json.loads(json.dumps(POOL[rng.integers(len(POOL))], default=lambda o: "object"))
    if rng.integers(20) == 0:  # and now and then something absurd in depth
        return json.dumps({**d, "model": "DEEP"}).replace('"DEEP"', "[" * 5000 + "]" * 5000)
    return json.dumps(d)


def _write_description(path: str, text: str, tensors: dict) -> None:
    metadata = {"neuronet": text, "neuronet.sha256": hashlib.sha256(text.encode()).hexdigest()}
    with open(path, "wb") as f:
        f.write(safetensors.numpy.save(tensors, metadata=metadata))


def _downgraded(path: str, rng) -> bytes:
    """The file at ``path`` with a weight changed and its description made to say version 1, which has no
    checksums: by two bit flips ("2" to "1"), by a rewrite that keeps the description's own checksum right, or
    by a rewrite that drops that checksum but keeps the tensors' (a version 1 file never held either)."""
    data = bytearray(Path(path).read_bytes())
    variant = rng.integers(3)
    if variant == 0:
        at = data.index(b'\\"format_version\\": 2') + len(b'\\"format_version\\": ')
        data[at] ^= 0x03  # "2" -> "1"
        data[-1 - int(rng.integers(16))] ^= 1 << int(rng.integers(8))  # in the last tensor's bytes
        return bytes(data)
    description, tensors = read_model_file(path)
    key = sorted(tensors)[rng.integers(len(tensors))]
    tensors[key].flat[rng.integers(tensors[key].size)] += 1.0
    description["format_version"] = 1
    text = json.dumps(description)
    metadata = {"neuronet": text}
    if variant == 1:
        metadata["neuronet.sha256"] = hashlib.sha256(text.encode()).hexdigest()
    return safetensors.numpy.save(tensors, metadata=metadata)


def fuzz_files(cases: int, rng, folder: str) -> Counter:
    """Bit flips, byte runs, truncations, rewritten descriptions (with matching checksums), versions turned down
    to 1 around a changed weight, and graph models' graphs rewritten (node numbers, calls, inputs, outputs)."""
    outcomes = Counter()
    graphs = _saved_graph_models(folder)
    models = _saved_models(folder) + graphs
    target = os.path.join(folder, "mutant.nnet")
    for case in range(cases):
        path, original, x = models[case % len(models)]
        kind = rng.integers(6)
        if kind == 5:  # (a graph's own rewrite: on a graph model)
            path, original, x = graphs[case % len(graphs)]
        data = bytearray(Path(path).read_bytes())
        if kind == 0:
            bit = int(rng.integers(len(data) * 8))
            data[bit // 8] ^= 1 << (bit % 8)
        elif kind == 1:
            at = int(rng.integers(len(data)))
            data[at : at + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        elif kind == 2:
            data = data[: int(rng.integers(len(data)))]
        elif kind == 4:
            data = _downgraded(path, rng)
        if kind in (3, 5):
            description, tensors = read_model_file(path)
            text = (_rewritten if kind == 3 else _graph_rewritten)(description, rng)
            _write_description(target, text, tensors)
        else:
            with open(target, "wb") as f:
                f.write(bytes(data))
        try:
            loaded = nn.load_model(target)
        except nn.ModelFileError:
            outcomes["clear"] += 1
            continue
        except Exception as exc:  # noqa: BLE001
            outcomes[_note("unclear", f"file mutation {kind}: {type(exc).__name__}: {exc}")] += 1
            continue
        if kind not in (3, 5):
            outcomes["unchanged" if _same(loaded, original) else _note("wrong", f"file mutation {kind} loaded")] += 1
            continue
        if loaded.kind == "model" and not _says(json.loads(text)["model"]["graph"], loaded.get_config()["graph"]):
            outcomes[_note("wrong", f"rewritten ({kind}): the graph loaded is not the file's")] += 1
            continue
        try:  # other settings, all valid: the model must work, never fail later at predict
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = loaded.predict(_inputs_of(loaded, x) if loaded.kind == "model" else x)
            finite = all(np.isfinite(o).all() for o in (out if isinstance(out, list) else [out]))
            outcomes["valid" if finite else _note("wrong", f"rewritten ({kind}): non-finite outputs")] += 1
        except Exception as exc:  # noqa: BLE001
            outcomes[_note("unclear", f"rewritten ({kind}), fails at predict: {type(exc).__name__}: {exc}")] += 1
    return outcomes


# -- the command line ------------------------------------------------------------------------------
FLAG_VALUES = ["", "0", "-1", "2.5", "nan", "inf", "-inf", "abc", "1e6", "none", ",", "1,,2", "3", "0.5", "-0.5",
               "1e-300", "x" * 300, "\x00", "64,-2", "1e308"]  # fmt: skip


def _cli_valid(flag: str, value: str) -> bool:
    """Whether ``neuronet train`` should accept ``flag value`` (True) or refuse it before training (False)."""
    try:
        number = float(value)
    except ValueError:
        number = None
    whole = value.strip().lstrip("-").isdigit()
    if flag in ("--epochs", "--batch-size"):
        return whole and int(value) >= 1
    if flag == "--early-stopping":
        return whole and int(value) >= 0
    if flag in ("--validation-split", "--dropout"):
        return number is not None and math.isfinite(number) and 0 <= number < 1
    if flag == "--l2":
        return number is not None and math.isfinite(number) and number >= 0
    if flag == "--learning-rate":
        return number is not None and math.isfinite(number) and number > 0
    if flag == "--hidden":
        parts = value.split(",")
        return value.strip().lower() == "none" or all(p.strip().isdigit() and int(p) >= 1 for p in parts)
    return False


def _hostile_files(folder: str, rng) -> dict[str, str]:
    good = os.path.join(folder, "good.csv")
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},{'abc'[i % 3]}" for i in range(60)]
    files = {
        "good": "a,b,label\n" + "\n".join(rows) + "\n",
        "empty": "",
        "header only": "a,b,label\n",
        "no header": "\n".join(r.replace("a", "0").replace("b", "1").replace("c", "2") for r in rows) + "\n",
        "ragged": "a,b,label\n1,2\n",
        "missing target": "a,b,label\n" + "\n".join(rows[:20]) + "\n1,2,\n",
        "NA target": "a,b,label\n" + "\n".join(rows[:20]) + "\n1,2,NA\n",
        "text feature": "a,b,label\n" + "\n".join(rows[:20]) + "\nx,2,a\n",
        "inf feature": "a,b,label\n" + "\n".join(rows[:20]) + "\ninf,2,a\n",
        "one class": "a,b,label\n" + "\n".join(f"{i},{i},a" for i in range(20)) + "\n",
        "duplicate columns": "a,a,label\n1,2,a\n",
        "binary": "\x00\xff\xfe" * 50,
        "one row": "a,b,label\n1,2,a\n",
    }
    paths = {}
    for name, text in files.items():
        path = os.path.join(folder, name.replace(" ", "_") + ".csv")
        with open(path, "w", encoding="latin-1", newline="") as f:
            f.write(text)
        paths[name] = path
    paths["directory"], paths["absent"] = folder, os.path.join(folder, "absent.csv")
    assert os.path.exists(good)
    return paths


LABEL_SPELLINGS = {
    "0": ["0", "-0", "0.0", "+0", "00"],
    "1": ["1", "+1", "01", "1e0", "1.0"],
    "2": ["2", "2.0", "+2", "02", "20e-1"],
}
NOT_ASCII_NUMBERS = ["١٢", "۳", "１２", "1_000", "٣.٥", "1e999"]  # float() reads each; no spreadsheet does
TABLE_TRAITS = ["label spellings", "spelt labels to evaluate", "huge values", "pandas index", "text feature",
                "unread number", "NUL in a label", "a class per row", "decimal commas", "inf cell",
                "unseen category", "text target for regression", "validation split too large"]  # fmt: skip


def _write_table(path: str, header: list[str], cells: list[list[str]], delimiter: str = ",") -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(delimiter.join(row) for row in [header, *cells]) + "\n")
    return path


def _numeric_table(rng, n: int = 60) -> tuple[list[str], list[list[str]]]:
    """Two features and a label 0, 1 or 2 (the first feature tells them apart)."""
    x = rng.normal(size=(n, 2))
    return ["a", "b", "label"], [[f"{i % 3 + 0.3 * u:.3f}", f"{v:.3f}", str(i % 3)] for i, (u, v) in enumerate(x)]


def _table_case(rng, folder: str, models: dict[str, str]):
    """A table with one hostile trait, the command run on it, and what must come of it: whether it is valid,
    the words its error must hold (its line, its column, the trouble), and a check of a valid run's model."""
    trait = TABLE_TRAITS[rng.integers(len(TABLE_TRAITS))]
    header, cells = _numeric_table(rng)
    row = int(rng.integers(len(cells)))  # the row a one-cell trait goes in, on line row + 2
    line, path, out = f"line {row + 2}", os.path.join(folder, "table.csv"), os.path.join(folder, "out.nnet")
    argv = ["train", path, "--target", "label", "--out", out, "--quiet", "--epochs", "2"]
    valid, words, delimiter = False, [], ","

    def check(meta) -> bool:
        return True

    if trait in ("label spellings", "spelt labels to evaluate"):  # each label in a random spelling: one class each
        for r in cells:
            r[2] = LABEL_SPELLINGS[r[2]][rng.integers(5)]
        valid = True
        if trait == "spelt labels to evaluate":
            argv = ["evaluate", models["numeric"], path]
        else:

            def check(meta) -> bool:
                return meta["classes"] == ["0", "1", "2"]

    elif trait == "huge values":  # a feature near 1e300, or reaching 1.7e308: standardised as any other
        scale = [1e300, 1e307][rng.integers(2)]
        for r in cells:
            r[0] = f"{float(r[0]) * scale:.6e}"
        cells[row][0] = "1.7e308" if scale > 1e300 else cells[row][0]
        valid = True

        def check(meta) -> bool:
            return all(math.isfinite(s) and s > 0 for s in meta["scaler"]["std"])

    elif trait == "pandas index":  # an unnamed first column of distinct whole numbers: left out
        order = rng.permutation(len(cells)) if rng.integers(2) else np.arange(len(cells))
        header, cells = ["", *header], [[str(i), *r] for i, r in zip(order, cells)]
        valid = True

        def check(meta) -> bool:
            return meta["features"] == ["a", "b"]

    elif trait == "text feature":  # a column of a few words: one-hot
        header = ["colour", *header]
        cells = [[["red", "green", "blue"][rng.integers(3)], *r] for r in cells]
        valid = True

        def check(meta) -> bool:
            return set(meta["categories"]["colour"]) <= {"red", "green", "blue"} and len(meta["features"]) == 3

    elif trait == "unread number":
        cells[row][1] = NOT_ASCII_NUMBERS[rng.integers(len(NOT_ASCII_NUMBERS))]
        words = [line, "column 'b'", "delete the row"]
    elif trait == "NUL in a label":
        cells[row][2] += "\x00"
        words = [line, "column 'label'", "control character"]
    elif trait == "a class per row":
        for i, r in enumerate(cells):
            r[2] = f"{['c', ''][rng.integers(2)]}{i}"
        argv += ["--task", "classification"]
        words = ["60 classes in 60 rows"]
    elif trait == "decimal commas":
        cells = [[c.replace(".", ",") for c in r] for r in cells]
        delimiter = ";"
        words = ["decimal commas", "'a', 'b'"]
    elif trait == "inf cell":
        cells[row][int(rng.integers(2))] = ["inf", "-inf", "Infinity"][rng.integers(3)]
        words = [line, "an infinite value", "delete the row"]
    elif trait == "unseen category":
        header = ["colour", *header]
        cells = [["red", *r] for r in cells]
        cells[row][0] = ["purple", "RED", "red\x00", "1"][rng.integers(4)]
        argv = ["predict", models["categories"], path]
        words = [line, "column 'colour'", "never saw in training", "'red'"]
    elif trait == "text target for regression":
        cells = [[*r[:2], "xyz"[int(r[2])]] for r in cells]
        argv += ["--task", "regression"]
        words = ["holds text", "--task classification"]
    else:
        argv += ["--validation-split", "0.99"]
        words = ["--validation-split 0.99 leaves none of the 60 rows"]
    _write_table(path, header, cells, delimiter)
    return argv, valid, words, check


CLI_SECONDS = 60  # a run longer than this is a hang (a command on these small files takes about a second)
HANG = -2  # _run_cli's code for a run stopped at CLI_SECONDS


class _Hang(BaseException):
    """Raised in a CLI run that outlasts CLI_SECONDS."""


def _stop(signum, frame):
    raise _Hang


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of ``neuronet argv``; a warning that reaches the user is in stderr."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _stop)
    signal.alarm(CLI_SECONDS)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            code = cli_main(argv)
        except _Hang:
            code = HANG
        except BaseException:  # noqa: BLE001 -- a traceback is exactly what this harness counts
            traceback.print_exc()
            code = -1
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    shown = "".join(f"{w.category.__name__}: {w.message}\n" for w in seen)  # as Python would print them
    return code, out.getvalue(), err.getvalue() + shown


def fuzz_cli(cases: int, rng, folder: str) -> Counter:
    outcomes = Counter()
    files = _hostile_files(folder, rng)
    model = os.path.join(folder, "cli.nnet")
    assert _run_cli(["train", files["good"], "--target", "label", "--out", model, "--epochs", "2", "--quiet"])[0] == 0
    models = _saved_models(folder)
    trained = {"numeric": os.path.join(folder, "numeric.nnet"), "categories": os.path.join(folder, "categories.nnet")}
    header, cells = _numeric_table(rng)
    numeric = _write_table(os.path.join(folder, "numeric.csv"), header, cells)
    colours = _write_table(os.path.join(folder, "colours.csv"), ["colour", *header], [["red", *r] for r in cells])
    for name, data in (("numeric", numeric), ("categories", colours)):
        assert (
            _run_cli(["train", data, "--target", "label", "--out", trained[name], "--epochs", "2", "--quiet"])[0] == 0
        )
    flags = ["--epochs", "--batch-size", "--early-stopping", "--validation-split", "--dropout", "--l2",
             "--learning-rate", "--hidden"]  # fmt: skip
    for _ in range(cases):
        out_path = os.path.join(folder, "out.nnet")
        if os.path.exists(out_path):
            os.unlink(out_path)
        kind = rng.integers(5)
        valid, words = False, []

        def check(meta) -> bool:
            return True

        base = ["train", files["good"], "--target", "label", "--out", out_path, "--quiet", "--epochs", "3"]
        if kind == 0:  # one hostile flag value
            flag, value = flags[rng.integers(len(flags))], FLAG_VALUES[rng.integers(len(FLAG_VALUES))]
            valid = _cli_valid(flag, value)
            if valid and flag in ("--hidden", "--epochs") and value in ("1e6", "1e308"):
                continue
            argv = [*base, f"{flag}={value}"]
        elif kind == 1:  # a hostile data file for train, evaluate or predict
            name = [n for n in files if n != "good"][rng.integers(len(files) - 1)]
            command = rng.integers(3)
            valid = (
                name in [(), ("one class", "one row"), ("missing target", "NA target", "one class", "one row")][command]
            )
            argv = [["train", files[name], "--target", "label", "--out", out_path, "--quiet", "--epochs", "2"],
                    ["evaluate", model, files[name]], ["predict", model, files[name]]][command]  # fmt: skip
        elif kind == 2:  # a hostile output place or target column
            argv = [*base[:5], [folder, os.path.join(folder, "nodir", "m.nnet"), ""][rng.integers(3)]]
            if rng.integers(2):
                argv = ["train", files["good"], "--target", ["", "nope", "a,b"][rng.integers(3)], "--out", out_path]
        elif kind == 4:  # a table with one hostile trait: spellings, huge values, an index column, ...
            argv, valid, words, check = _table_case(rng, folder, trained)
        else:  # a damaged or foreign model file for every command that reads one
            path, _, _ = models[rng.integers(len(models))]
            data = bytearray(Path(path).read_bytes())
            for _ in range(1 + rng.integers(3)):
                bit = int(rng.integers(len(data) * 8))
                data[bit // 8] ^= 1 << (bit % 8)
            mutant = os.path.join(folder, "mutant.nnet")
            with open(mutant, "wb") as f:
                f.write(bytes(data))
            command = ["summary", "evaluate", "predict", "predict-text", "export"][rng.integers(5)]
            extra = {"summary": [], "predict-text": ["good film"], "export": [os.path.join(folder, "m.onnx")]}
            argv = [command, mutant] + extra.get(command, [files["good"]])
        code, out, err = _run_cli(argv)
        shown = f"neuronet {' '.join(argv)} -> {code}: {err.strip()[-300:]}"
        if code == HANG:
            outcomes[_note("hang", shown)] += 1
        elif code == -1 or "Traceback" in err:
            outcomes[_note("unclear", shown)] += 1
        elif code == 0:  # a model it writes must load, hold finite weights and pass the case's check
            works = "Warning" not in err  # no NumPy warning may reach the user
            if os.path.exists(out_path):
                written = nn.load_model(out_path)
                works = works and np.isfinite(written.get_weights()[0]).all() and check(written.metadata)
            outcomes["valid" if valid and works else _note("wrong", shown)] += 1
        else:  # a valid setting may still make training diverge (--l2 1e308): refused in one line, nothing written
            one_line = err.count("\n") == 1 and ": error: " in err
            named = all(w in err for w in words)  # the error names the place and the trouble
            diverged = "training diverged" in err and not os.path.exists(out_path)
            refused = "clear" if one_line and named and (not valid or diverged) else ("wrong" if valid else "unclear")
            outcomes[_note(refused, shown)] += 1
    return outcomes


# -- MPI jobs ----------------------------------------------------------------------------------------
# Two ranks under mpiexec that differ in one thing, or where one rank fails: every such job must end, in
# bounded time, with a message that names what went wrong. A job still running after MPI_BOUND_S hangs.
MPI_TIMEOUT_S = 3  # NEURONET_MPI_TIMEOUT for the jobs: the deadline of a collective step
MPI_BOUND_S = 60
MPI_SCRIPT = """
import os, signal, sys, time
import numpy as np
import neuronet as nn

r = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))  # (nn.distributed untouched)
def both(a, b):
    return [a, b][r]

class Fault(nn.callbacks.Callback):
    def on_batch_end(self, batch, logs=None):
        if r == {rank} and self.epoch == 1 and batch == 2:
            {fault}
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

nn.set_dtype({dtype})
rng = np.random.default_rng(0)
x, y = rng.standard_normal((48, 4)), np.arange(48) % 3
{data}
{before}
L = nn.layers
model = nn.Sequential([L.Dense(4, {width}, activation="relu"), L.Dense({width}, 3, activation="softmax")])
model.compile(loss={loss}, optimizer={optimizer}, metrics={metrics})
{prior}
model.fit(x, y, epochs={epochs}, batch_size={batch_size}, shuffle={shuffle}, validation_split={validation_split},
          validation_data={validation_data}, callbacks=[Fault(), *{callbacks}], verbose=0, distributed=True)
print("FINISHED", r, flush=True)
"""
MPI_SAME = {"rank": "0", "dtype": "'float64'", "data": "", "before": "", "width": "6",
            "loss": "'categorical_crossentropy'", "optimizer": "nn.optimizers.Adam(0.01)", "metrics": "['accuracy']",
            "prior": "", "epochs": "3", "batch_size": "8", "shuffle": "True", "validation_split": "0.0",
            "validation_data": "None", "callbacks": "[]", "fault": "pass"}  # fmt: skip
# a setting: values two ranks may be given, and the words of the refusal when they differ
MPI_MISMATCHES = {
    "epochs": (["1", "2", "3", "7"], "epochs: "),
    "batch_size": (["4", "5", "8", "16"], "batch_size: "),
    "shuffle": (["True", "False"], "shuffle: "),
    "validation_split": (["0.0", "0.25", "0.5"], "validation samples: "),
    "validation_data": (["None", "(x[:8], y[:8])", "(x[:5], y[:5])"], "validation samples: "),
    "data": (["", "x, y = x[:40], y[:40]", "x, y = x[:47], y[:47]"], "training samples: "),
    "width": (["6", "7", "16"], "their layers"),
    "loss": (["'categorical_crossentropy'", "nn.losses.CategoricalCrossentropy(label_smoothing=0.1)"], "loss: "),
    "optimizer": (["nn.optimizers.Adam(0.01)", "nn.optimizers.Adam(0.02)", "'sgd'", "nn.optimizers.SGD(0.01, 0.9)"],
                  "optimizer: "),
    "metrics": (["['accuracy']", "[]", "['acc']"], "metrics: "),
    "dtype": (["'float64'", "'float32'"], "dtype of the weights: "),
    "callbacks": (["[]", "[nn.callbacks.EarlyStopping(monitor='loss', patience=1)]",
                   "[nn.callbacks.EarlyStopping(monitor='loss', patience=2)]",
                   "[nn.callbacks.ReduceLROnPlateau(monitor='loss')]"], "callbacks: "),
    "prior": (["", "model.fit(x, y, epochs=1, verbose=0)"], "optimizer steps taken: "),
}  # fmt: skip
_WAITED = r"waited 3 s in vain at .*NEURONET_MPI_TIMEOUT"
# a fault on rank {rank}: (the setting it changes, its code there, a pattern the job's messages must match)
MPI_FAULTS = [
    ("data", "if r == {rank}: x[3, 1] = np.nan", r"refused to start fit.*X contains 1 NaN"),
    ("data", "if r == {rank}: y = y[:-1]", r"X has 48 samples but y has 47"),
    ("data", "if r == {rank}: x = x[:, :3]", r"rank {rank} of 2 refused to start fit"),
    ("epochs", "3 if r != {rank} else -1", r"epochs must be >= 0, got -1"),
    ("batch_size", "8 if r != {rank} else '8'", r"batch_size must be an int"),
    ("fault", "raise RuntimeError('injected on rank {rank}')", r"rank {rank} of 2: RuntimeError: injected on rank"),
    ("fault", "time.sleep(120)", _WAITED + "|gradient sum"),
    ("fault", "while True: pass", _WAITED),
    ("fault", "os.kill(os.getpid(), signal.SIGKILL)", r"signal 9|" + _WAITED),
    ("fault", "sys.exit(3)", r"SystemExit|" + _WAITED),
    ("before", "if r == {rank}: nn.distributed.rank(); time.sleep(120)", _WAITED.replace(".*", "the start-up check.*")),
    ("before", "if r == {rank}: nn.distributed.rank(); sys.exit(0)", _WAITED.replace(".*", "the start-up check.*")),
    ("before", "if r == {rank}: time.sleep(120)", r"MPI did not start within 3 s.*NEURONET_MPI_TIMEOUT"),
    ("before", "if r == {rank}: raise RuntimeError('injected before fit')", r"MPI did not start within 3 s"),
    ("before", "if r == {rank}: nn.distributed.rank(); raise RuntimeError('injected')", r"RuntimeError: injected"),
]  # fmt: skip


def run_bounded(argv: list[str], seconds: float, **kwargs) -> subprocess.CompletedProcess | None:
    """Run ``argv`` (mpiexec and its ranks) for at most ``seconds``: its result, or None if it ran longer (all
    it started is then killed, so that no rank is left behind)."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          **kwargs) as job:  # fmt: skip
        try:
            out, err = job.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
            return None
    return subprocess.CompletedProcess(argv, job.returncode, out, err)


def _mpi_case(rng) -> tuple[str, dict, str | None]:
    """A job: what it is, the settings of its script, and the pattern its refusal must match (None: a valid job,
    the same on both ranks, which must train)."""
    kind = rng.integers(7)
    settings = dict(MPI_SAME)
    if kind == 0:
        return "the same on both ranks", settings, None
    if kind <= 3:  # two ranks called differently
        name = list(MPI_MISMATCHES)[rng.integers(len(MPI_MISMATCHES))]
        values, words = MPI_MISMATCHES[name]
        first, second = rng.choice(len(values), 2, replace=False)
        if name in ("data", "prior"):  # statements
            settings[name] = f"if r == 0:\n    {values[first] or 'pass'}\nelse:\n    {values[second] or 'pass'}"
        else:
            settings[name] = f"both({values[first]}, {values[second]})"
        return f"{name}: {values[first]!r} on rank 0, {values[second]!r} on rank 1", settings, re.escape(words)
    name, code, pattern = MPI_FAULTS[rng.integers(len(MPI_FAULTS))]
    faulty = int(rng.integers(2))
    settings[name], settings["rank"] = code.format(rank=faulty), str(faulty)
    return f"rank {faulty}: {settings[name]}", settings, pattern.format(rank=faulty)


FUZZ_MPI_OUTCOMES = ("clear", "unclear", "wrong", "hang", "valid")


def fuzz_mpi(cases: int, rng, folder: str) -> Counter:
    """Two-rank jobs that differ in one argument or where one rank fails (NaN data, an exception, a sleep past
    the timeout, an endless loop, SIGKILL, never calling fit): clear if the job ends with the message the
    fault calls for, unclear if it ends without it, wrong if it exits 0, hang if it runs past MPI_BOUND_S."""
    from conftest import find_mpiexec

    mpiexec = find_mpiexec()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        mpiexec = None
    if mpiexec is None:
        print('the MPI part is skipped: it needs mpi4py and mpiexec (pip install "neuronet[mpi]")')
        return Counter()
    outcomes = Counter()
    script = os.path.join(folder, "mpi_job.py")
    env = {**os.environ, "NEURONET_MPI_TIMEOUT": str(MPI_TIMEOUT_S)}
    for _ in range(cases):
        what, settings, pattern = _mpi_case(rng)
        with open(script, "w") as f:
            f.write(MPI_SCRIPT.format(**settings))
        done = run_bounded([mpiexec, "-n", "2", sys.executable, script], MPI_BOUND_S, cwd=folder, env=env)
        if done is None:
            FAILURES.append(f"hang: mpi {what}: still running after {MPI_BOUND_S} s")
            outcomes["hang"] += 1
            continue
        said = done.stderr + done.stdout  # (mpiexec reports a rank killed by a signal on its standard output)
        shown = f"mpi {what} -> {done.returncode}: {said.strip()[-600:]}"
        finished = done.stdout.count("FINISHED")
        if pattern is None:
            outcomes["valid" if done.returncode == 0 and finished == 2 else _note("wrong", shown)] += 1
        elif done.returncode == 0 or finished:
            outcomes[_note("wrong", shown)] += 1
        else:
            outcomes["clear" if re.search(pattern, said, re.DOTALL) else _note("unclear", shown)] += 1
    return outcomes


def run(api: int, files: int, cli: int, seed: int = 0) -> dict[str, Counter]:
    rng = np.random.default_rng(seed)
    nn.set_seed(seed)
    with tempfile.TemporaryDirectory() as folder:
        return {
            "api": fuzz_api(api, rng),
            "files": fuzz_files(files, rng, folder),
            "cli": fuzz_cli(cli, rng, folder),
        }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", type=int, default=3000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--cli", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mpi", type=int, default=0, help="two-rank MPI jobs with a fault (mpi4py and mpiexec)")
    ap.add_argument("--show", action="store_true", help="print every unclear or wrong case")
    args = ap.parse_args()
    results = run(args.api, args.files, args.cli, args.seed)
    print("| harness | cases | clear error | unclear | wrong | hang | unchanged / valid |")
    print("|---|---|---|---|---|---|---|")
    for name, counts in results.items():
        cells = [sum(counts.values()), counts["clear"], counts["unclear"], counts["wrong"], counts["hang"]]
        print(f"| {name} | " + " | ".join(map(str, [*cells, counts["unchanged"] + counts["valid"]])) + " |")
    if args.mpi:
        with tempfile.TemporaryDirectory() as folder:
            mpi = fuzz_mpi(args.mpi, np.random.default_rng(args.seed), folder)
        print("\n| MPI jobs | cases | clear error | unclear | wrong | hang | valid |\n|---|---|---|---|---|---|---|")
        print(f"| mpi | {sum(mpi.values())} | " + " | ".join(str(mpi[k]) for k in FUZZ_MPI_OUTCOMES) + " |")
    if args.show:
        print("\n".join(FAILURES))
