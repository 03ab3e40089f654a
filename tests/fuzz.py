"""Hostile-input fuzzing: random bad calls to the public API, mutated model files, hostile CLI runs.

    python tests/fuzz.py                 # 3,000 API calls, 2,000 model files, 300 CLI runs
    python tests/fuzz.py --api 500 --files 300 --cli 60 --seed 1

Every case is sorted into one of these outcomes:

- clear:   refused with a ValueError/TypeError (ModelFileError, FileNotFoundError for files; one line
           and a non-zero exit for the CLI) whose message names what was wrong;
- unclear: refused, but with another exception (IndexError, RecursionError, a crash deep inside NumPy),
           a message that does not name the argument, or a traceback from the CLI;
- wrong:   accepted although it was invalid, or a file that loads with other numbers than were saved.

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
from neuronet.saving import read_model_file

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
ACTIVATION = spec_optional(spec_choice("relu", "leaky_relu", "sigmoid", "tanh", "softmax"))

# target: (callable, valid keyword arguments, {argument: validity})
CONSTRUCTORS = {
    "Dense": (L.Dense, {"n_inputs": 4, "n_neurons": 3}, {
        "n_inputs": spec_int(1), "n_neurons": spec_int(1), "activation": ACTIVATION,
        "weight_regularizer_l1": NON_NEGATIVE, "weight_regularizer_l2": NON_NEGATIVE,
        "bias_regularizer_l1": NON_NEGATIVE, "bias_regularizer_l2": NON_NEGATIVE,
        "weight_initializer": spec_choice("glorot_uniform", "he_normal", "small_normal", "zeros")}),
    "Conv2D": (L.Conv2D, {"in_channels": 1, "out_channels": 2, "kernel_size": 3}, {
        "in_channels": spec_int(1), "out_channels": spec_int(1), "stride": spec_int_or_pair(1),
        "dilation": spec_int_or_pair(1), "kernel_size": spec_int_or_pair(1), "activation": ACTIVATION,
        "padding": lambda v: v in ("valid", "same") or (is_int(v, 0) and v <= 3)}),
    "Conv1D": (L.Conv1D, {"in_channels": 2, "out_channels": 2, "kernel_size": 2}, {
        "kernel_size": spec_int(1), "stride": spec_int(1), "dilation": spec_int(1), "in_channels": spec_int(1)}),
    "Conv2DTranspose": (L.Conv2DTranspose, {"in_channels": 2, "out_channels": 2, "kernel_size": 3, "stride": 2}, {
        "in_channels": spec_int(1), "out_channels": spec_int(1), "kernel_size": spec_int_or_pair(1),
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
        "input_size": spec_int(1), "hidden_size": spec_int(1), "activation": spec_choice("tanh", "relu"),
        "return_sequences": is_flag}),
    "LSTM": (L.LSTM, {"input_size": 3, "hidden_size": 2}, {
        "input_size": spec_int(1), "hidden_size": spec_int(1), "return_sequences": is_flag,
        "unit_forget_bias": is_flag}),
    "GRU": (L.GRU, {"input_size": 3, "hidden_size": 2}, {"hidden_size": spec_int(1), "return_sequences": is_flag}),
    "Bidirectional": (L.Bidirectional, {"layer": L.GRU(3, 2)}, {
        "merge_mode": spec_choice("concat", "sum", "mul", "ave"),
        "layer": lambda v: isinstance(v, (L.SimpleRNN, L.LSTM, L.GRU))}),
    "BatchNormalization": (L.BatchNormalization, {"n_features": 3}, {
        "n_features": spec_int(1), "momentum": FRACTION, "epsilon": POSITIVE}),
    "LeakyReLU": (L.LeakyReLU, {}, {"alpha": spec_num()}),
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
        "patience": spec_int(0), "min_delta": spec_num(), "restore_best_weights": is_flag,
        "mode": spec_choice("auto", "min", "max")}),
    "ReduceLROnPlateau": (nn.callbacks.ReduceLROnPlateau, {}, {
        "factor": spec_num(low=0.0, high=1.0, low_open=True, high_open=True), "patience": spec_int(0),
        "cooldown": spec_int(0), "min_lr": NON_NEGATIVE}),
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


METHOD_ARGS = {
    "epochs": spec_int(0),
    "batch_size": spec_int(1),
    "validation_split": FRACTION,
    "shuffle": is_flag,
    "verbose": lambda v: is_flag(v) or (is_int(v) and 0 <= v <= 2),
}


FAILURES: list[str] = []  # what went unclear or wrong, for a person to read (--show)


def _note(outcome: str, what: str) -> str:
    if outcome in ("unclear", "wrong"):
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
    """Random calls, each with one invalid argument (constructors, fit/predict/evaluate, data)."""
    outcomes, tried = Counter(), 0
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    while tried < cases:
        kind = rng.integers(3)
        if kind == 0:  # a constructor with one bad setting
            target = list(CONSTRUCTORS)[rng.integers(len(CONSTRUCTORS))]
            make, base, specs = CONSTRUCTORS[target]
            arg = list(specs)[rng.integers(len(specs))]
            value = POOL[rng.integers(len(POOL))]
            if specs[arg](value):
                continue  # a valid value: not a bad call
            kwargs = {**base, arg: value}
            outcome = _classify(lambda make=make, kwargs=kwargs: make(**kwargs), f"{target}({arg}={value!r})", [arg])
        elif kind == 1:  # fit/predict/evaluate with one bad setting
            arg = list(METHOD_ARGS)[rng.integers(len(METHOD_ARGS))]
            value = POOL[rng.integers(len(POOL))]
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


def fuzz_files(cases: int, rng, folder: str) -> Counter:
    """Bit flips, byte runs, truncations, and rewritten descriptions (with matching checksums)."""
    outcomes = Counter()
    models = _saved_models(folder)
    target = os.path.join(folder, "mutant.nnet")
    for case in range(cases):
        path, original, x = models[case % len(models)]
        data = bytearray(Path(path).read_bytes())
        kind = rng.integers(4)
        if kind == 0:
            bit = int(rng.integers(len(data) * 8))
            data[bit // 8] ^= 1 << (bit % 8)
        elif kind == 1:
            at = int(rng.integers(len(data)))
            data[at : at + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        elif kind == 2:
            data = data[: int(rng.integers(len(data)))]
        if kind < 3:
            with open(target, "wb") as f:
                f.write(bytes(data))
        else:
            description, tensors = read_model_file(path)
            _write_description(target, _rewritten(description, rng), tensors)
        try:
            loaded = nn.load_model(target)
        except nn.ModelFileError:
            outcomes["clear"] += 1
            continue
        except Exception as exc:  # noqa: BLE001
            outcomes[_note("unclear", f"file mutation {kind}: {type(exc).__name__}: {exc}")] += 1
            continue
        if kind < 3:
            outcomes["unchanged" if _same(loaded, original) else _note("wrong", f"file mutation {kind} loaded")] += 1
            continue
        try:  # other settings, all valid: the model must work, never fail later at predict
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = loaded.predict(x)
            outcomes["valid" if np.isfinite(out).all() else _note("wrong", "rewritten: non-finite outputs")] += 1
        except Exception as exc:  # noqa: BLE001
            outcomes[_note("unclear", f"rewritten, fails at predict: {type(exc).__name__}: {exc}")] += 1
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


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = cli_main(argv)
        except BaseException:  # noqa: BLE001 -- a traceback is exactly what this harness counts
            traceback.print_exc()
            code = -1
    return code, out.getvalue(), err.getvalue()


def fuzz_cli(cases: int, rng, folder: str) -> Counter:
    outcomes = Counter()
    files = _hostile_files(folder, rng)
    model = os.path.join(folder, "cli.nnet")
    assert _run_cli(["train", files["good"], "--target", "label", "--out", model, "--epochs", "2", "--quiet"])[0] == 0
    models = _saved_models(folder)
    flags = ["--epochs", "--batch-size", "--early-stopping", "--validation-split", "--dropout", "--l2",
             "--learning-rate", "--hidden"]  # fmt: skip
    for _ in range(cases):
        out_path = os.path.join(folder, "out.nnet")
        if os.path.exists(out_path):
            os.unlink(out_path)
        kind = rng.integers(4)
        valid = False
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
        if code == -1 or "Traceback" in err:
            outcomes[_note("unclear", shown)] += 1
        elif code == 0:  # a model it writes must load and hold finite weights
            works = not os.path.exists(out_path) or np.isfinite(nn.load_model(out_path).get_weights()[0]).all()
            outcomes["valid" if valid and works else _note("wrong", shown)] += 1
        else:  # a valid setting may still make training diverge (--l2 1e308): refused in one line, nothing written
            one_line = err.count("\n") == 1 and ": error: " in err
            diverged = "training diverged" in err and not os.path.exists(out_path)
            refused = "clear" if one_line and (not valid or diverged) else ("wrong" if valid else "unclear")
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
    print("| harness | cases | clear error | unclear | wrong | unchanged / valid |")
    print("|---|---|---|---|---|---|")
    for name, counts in results.items():
        cells = [sum(counts.values()), counts["clear"], counts["unclear"], counts["wrong"]]
        print(f"| {name} | " + " | ".join(map(str, [*cells, counts["unchanged"] + counts["valid"]])) + " |")
    if args.mpi:
        with tempfile.TemporaryDirectory() as folder:
            mpi = fuzz_mpi(args.mpi, np.random.default_rng(args.seed), folder)
        print("\n| MPI jobs | cases | clear error | unclear | wrong | hang | valid |\n|---|---|---|---|---|---|---|")
        print(f"| mpi | {sum(mpi.values())} | " + " | ".join(str(mpi[k]) for k in FUZZ_MPI_OUTCOMES) + " |")
    if args.show:
        print("\n".join(FAILURES))
