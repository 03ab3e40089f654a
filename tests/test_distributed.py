"""Data-parallel training over MPI, run for real: 2 ranks under mpiexec (MPICH) against one process.

Each test writes a script and runs it with ``mpiexec -n 2``; rank 0 writes what it found as JSON. They skip
where mpi4py or mpiexec is missing (``pip install "neuronet[mpi]"`` brings both; CI installs them)."""

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import find_mpiexec
from fuzz import run_bounded

import neuronet as nn

L = nn.layers

pytest.importorskip("mpi4py")
MPIEXEC = find_mpiexec()
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")

PRELUDE = """
import json, sys
import numpy as np
import neuronet as nn

L = nn.layers
nn.set_dtype("float64")
rank, size = nn.distributed.rank(), nn.distributed.size()
def report(**values):
    if rank == 0:
        print("RESULT " + json.dumps(values), flush=True)
"""


def mpirun(tmp_path, body: str, ranks: int = 2, timeout: int = 120, args=(), prelude: str = PRELUDE, launch=None,
           **env):  # fmt: skip
    """Run ``body`` on ``ranks`` ranks, ``env`` added to the environment; a job that outlives ``timeout``
    seconds is killed, ranks and all, and fails the test (it hung). ``launch``: the mpiexec command line
    (``mpiexec -n ranks`` unless given)."""
    script = tmp_path / "job.py"
    script.write_text(prelude + textwrap.dedent(body))
    start = time.monotonic()
    launch = launch or [MPIEXEC, "-n", str(ranks)]
    done = run_bounded([*launch, sys.executable, str(script), *args], timeout, cwd=tmp_path,
                       env={**os.environ, **env})  # fmt: skip
    if done is None:
        pytest.fail(f"the job was still running after {timeout} s: it hung")
    done.seconds = time.monotonic() - start
    results = [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    done.result = results[0] if results else None
    return done


def test_two_ranks_with_batch_b_end_where_one_process_with_batch_2b_ends(tmp_path):
    """A dense and a conv model, Adam and momentum SGD, shuffled and not: the weights after 4 epochs agree
    to 1e-8 and so do the History's losses (training and validation) and accuracies."""
    done = mpirun(tmp_path, """
        def build(kind, opt):
            nn.set_seed(0)
            if kind == "dense":
                layers = [L.Dense(5, 8, activation="relu"), L.Dense(8, 3, activation="softmax")]
            else:
                layers = [L.Conv2D(1, 3, 3, padding="same", activation="relu"), L.MaxPool2D(2), L.Flatten(),
                          L.Dense(12, 3, activation="softmax")]
            model = nn.Sequential(layers)
            optimizer = nn.optimizers.Adam(0.01) if opt == "adam" else nn.optimizers.SGD(0.05, momentum=0.9)
            model.compile(optimizer=optimizer, metrics=["accuracy"])
            return model
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, 100)
        found = {}
        for kind in ("dense", "conv"):
            x = rng.standard_normal((100, 5)) if kind == "dense" else rng.standard_normal((100, 4, 4, 1))
            for opt in ("adam", "sgd"):
                for shuffle in (True, False):
                    model = build(kind, opt)
                    history = model.fit(x, y, epochs=4, batch_size=8, shuffle=shuffle, validation_split=0.2,
                                        verbose=0, distributed=True)
                    alone = build(kind, opt)
                    expected = alone.fit(x, y, epochs=4, batch_size=16, shuffle=shuffle, validation_split=0.2,
                                         verbose=0)
                    found[f"{kind} {opt} {shuffle}"] = {
                        "weights": max(float(np.abs(a - b).max() / np.abs(b).max())
                                       for a, b in zip(model.get_weights(), alone.get_weights())),
                        "history": history.history, "expected": expected.history,
                    }
        report(size=size, found=found)
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.result["size"] == 2 and len(done.result["found"]) == 8
    for case, found in done.result["found"].items():
        assert found["weights"] < 1e-8, case
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            np.testing.assert_allclose(found["history"][key], found["expected"][key], rtol=1e-8, err_msg=case)


def test_a_graph_model_of_two_inputs_and_two_outputs_on_two_ranks_ends_where_one_process_ends(tmp_path):
    """A residual conv block beside a table through a shared Dense, a softmax head and a regression head:
    fit(distributed=True) on 2 ranks with batch b against one process with batch 2b, weights and History
    (every output's loss and metric) to 1e-8. Ranks whose inputs differ in a free axis (a sequence's length),
    whose graphs are wired differently or whose loss weights differ are refused, each rank's value named."""
    done = mpirun(tmp_path, """
        def build():
            nn.set_seed(0)
            image, table = nn.Input(shape=(4, 4, 1)), nn.Input(shape=(3,))
            c = L.Conv2D(2, 3, padding="same", activation="relu")(image)
            pooled = L.Flatten()(L.MaxPool2D(2)(L.Add()([c, L.Conv2D(2, 3, padding="same")(c)])))
            shared = L.Dense(3, activation="tanh")
            h = L.Concatenate()([pooled, shared(table)])
            model = nn.Model([image, table], [L.Dense(3, activation="softmax")(h), L.Dense(1)(shared(shared(table)))])
            model.compile(["categorical_crossentropy", "mse"], nn.optimizers.Adam(0.01), [["accuracy"], []], [1.0, 0.5])
            return model
        rng = np.random.default_rng(0)
        x = [rng.standard_normal((100, 4, 4, 1)), rng.standard_normal((100, 3))]
        y = [rng.integers(0, 3, 100), rng.standard_normal((100, 1))]
        train, validation = ([v[:80] for v in x], [v[:80] for v in y]), ([v[80:] for v in x], [v[80:] for v in y])
        model = build()
        history = model.fit(*train, epochs=3, batch_size=8, validation_data=validation, verbose=0, distributed=True)
        alone = build()
        expected = alone.fit(*train, epochs=3, batch_size=16, validation_data=validation, verbose=0)
        weights = max(float(np.abs(a - b).max() / np.abs(b).max())
                      for a, b in zip(model.get_weights(), alone.get_weights()))
        def refusal(length=5, swap=False, loss_weights=(1.0, 1.0)):
            s, t = nn.Input(shape=(None, 2)), nn.Input(shape=(2,))
            u = L.Concatenate()([L.LSTM(2)(s), t] if not swap else [t, L.LSTM(2)(s)])
            model = nn.Model([s, t], [L.Dense(1)(u), L.Dense(1)(t)])
            model.compile(loss="mse", loss_weights=list(loss_weights))
            try:
                model.fit([rng.standard_normal((16, length, 2)), rng.standard_normal((16, 2))],
                          [np.zeros((16, 1)), np.zeros((16, 1))], verbose=0, distributed=True)
            except ValueError as exc:
                return str(exc)
        refused = [refusal(length=5 + rank), refusal(swap=rank == 1), refusal(loss_weights=(1.0, 1.0 + rank))]
        report(weights=weights, history=history.history, expected=expected.history,
               refused=nn.distributed.world().allgather(refused))
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = done.result
    assert found["weights"] < 1e-8
    keys = {"loss", "dense_1_loss", "dense_1_accuracy", "dense_2_loss", "val_loss", "val_dense_1_accuracy"}
    assert keys <= set(found["expected"]) and set(found["history"]) == set(found["expected"])
    for key, values in found["expected"].items():
        np.testing.assert_allclose(found["history"][key], values, rtol=1e-8, err_msg=key)
    first, second = found["refused"]
    messages = [
        "a sample's shape and type: [(5, 2) float64, (2,) float64] on rank 0, [(6, 2) float64, (2,) float64] on rank 1",
        "their layers (different layers or sizes, or wired differently)",  # the same layers, the inputs swapped
        "loss_weights: [1.0, 1.0] on rank 0, [1.0, 2.0] on rank 1",
    ]
    for mine, theirs, message in zip(first, second, messages, strict=True):
        assert mine == theirs and mine.startswith("the 2 ranks called fit differently") and message in mine, mine


def test_a_rank_raising_mid_training_ends_the_job_within_seconds(tmp_path):
    done = mpirun(tmp_path, """
        class Fail(nn.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if rank == 1 and epoch == 1:
                    raise RuntimeError("the disk of rank 1 is full")
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        model.compile()
        x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
        model.fit(x, y, epochs=1000, batch_size=8, callbacks=[Fail()], verbose=0, distributed=True)
        print("FINISHED", rank, flush=True)  # (nor rank 1, whose MPI_Abort may return before the rank ends)
    """, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "FINISHED" not in done.stdout
    assert done.seconds < 30
    assert "rank 1 of 2: RuntimeError: the disk of rank 1 is full" in done.stderr


def test_early_stopping_stops_every_rank_at_the_same_epoch_and_only_rank_0_prints(tmp_path):
    done = mpirun(tmp_path, """
        nn.set_seed(0)
        model = nn.Sequential([L.Dense(4, 32, activation="relu"), L.Dense(32, 1)])
        model.compile(loss="mse", optimizer=nn.optimizers.Adam(0.05))
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((64, 4)), rng.standard_normal((64, 1))  # noise: the validation loss soon rises
        stop = nn.callbacks.EarlyStopping(patience=2)
        history = model.fit(x, y, epochs=200, batch_size=8, validation_split=0.25, callbacks=[stop], verbose=2,
                            distributed=True)
        epochs = nn.distributed.world().allgather(len(history.epoch))
        report(epochs=epochs, threads=nn.get_threads())
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = done.result["epochs"]
    assert first == second < 200
    assert done.stderr.count("Epoch 1/200 -") == 1  # one rank's lines, not two
    assert done.result["threads"] == max(1, (os.cpu_count() or 1) // 2)


# fit's arguments on each rank (``rank`` is 0 or 1), and what the refusal on every rank says
MISMATCHES = [
    ("epochs=3 + rank", "epochs: 3 on rank 0, 4 on rank 1"),
    ("batch_size=8 * (1 + rank)", "batch_size: 8 on rank 0, 16 on rank 1"),
    ("shuffle=rank == 0", "shuffle: True on rank 0, False on rank 1"),
    ("validation_split=0.25 * rank", "validation samples: none on rank 0, 16 on rank 1"),
    ("validation_data=(x[: 8 + rank], y[: 8 + rank])", "validation samples: 8 on rank 0, 9 on rank 1"),
    ("x=x[: 60 + rank], y=y[: 60 + rank]", "training samples: 60 on rank 0, 61 on rank 1"),
    ("width=4 + rank", "their layers (different layers or sizes, or wired differently)"),
    ("loss=nn.losses.CategoricalCrossentropy(label_smoothing=0.1 * rank)",
     "'label_smoothing': 0.0}} on rank 0, {'class': 'CategoricalCrossentropy', 'config': {'from_logits': False, "
     "'label_smoothing': 0.1}} on rank 1"),
    ("optimizer=nn.optimizers.SGD(0.1, momentum=0.5 * rank)", "'momentum': 0.0, 'nesterov': False}} on rank 0"),
    ("metrics=['accuracy'][rank:]", "metrics: ['accuracy'] on rank 0, [] on rank 1"),
    ("dtype=['float64', 'float32'][rank]", "dtype of the weights: ['float64'] on rank 0, ['float32'] on rank 1"),
    ("trained=4 * rank", "optimizer steps taken: 0 on rank 0, 8 on rank 1"),
    ("callbacks=[nn.callbacks.EarlyStopping(monitor='loss', patience=2 + rank)]",
     "callbacks: [EarlyStopping(monitor='loss', patience=2, min_delta=0.0, restore_best_weights=True, mode='min')] "
     "on rank 0, [EarlyStopping(monitor='loss', patience=3, "),
    ("callbacks=[nn.callbacks.LearningRateScheduler(nn.schedules.StepDecay(0.1, every=2 + rank))]",
     "callbacks: [LearningRateScheduler(schedule=StepDecay(initial=0.1, factor=0.5, every=2), verbose=0)] on rank 0"),
]  # fmt: skip
# differences that change nothing the ranks compute: callbacks that only write (only rank 0 writes), given to rank 0
# alone as Horovod's scripts do
ALIKE = [
    "callbacks=[nn.callbacks.ModelCheckpoint('m.nnet', monitor='loss'), nn.callbacks.CSVLogger('log.csv')]"
    "[: 2 - 2 * rank]"
]


def test_ranks_called_differently_refuse_on_every_rank_naming_each_ranks_value_and_then_go_on_together(tmp_path):
    """Each difference that would make the ranks take different numbers of collective steps (and wait for
    each other forever) or train different models is refused on every rank alike, so a script that catches
    it goes on with the ranks in step: the last call, the same on both, trains."""
    calls = ", ".join(f"attempt({args})" for args in [*(args for args, _ in MISMATCHES), *ALIKE])
    done = mpirun(tmp_path, """
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((64, 3)), np.arange(64) % 2
        def attempt(width=4, loss="categorical_crossentropy", optimizer="adam", metrics=("accuracy",),
                    dtype="float64", trained=0, **arguments):
            nn.set_dtype(dtype)
            model = nn.Sequential([L.Dense(3, width, activation="relu"), L.Dense(width, 2, activation="softmax")])
            model.compile(loss=loss, optimizer=optimizer, metrics=list(metrics))
            if trained:
                model.fit(x, y, epochs=trained, verbose=0)  # (2 steps an epoch)
            try:
                model.fit(**{"x": x, "y": y, "epochs": 3, "batch_size": 8, "verbose": 0, "distributed": True,
                             **arguments})
                return "trained"
            except ValueError as exc:
                return f"{type(exc).__name__}: {exc}"
        found = [CALLS, attempt()]
        report(found=nn.distributed.world().allgather(found))
    """.replace("CALLS", calls), timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = done.result["found"]
    for (args, message), mine, theirs in zip(MISMATCHES, first, second):
        assert mine == theirs, args  # every rank refuses, with one message
        assert mine.startswith("ArgumentError: the 2 ranks called fit differently, so they would not take"), mine
        assert message in mine, (args, mine)
        assert "Give every rank the same arguments" in mine
    assert first[len(MISMATCHES) :] == second[len(MISMATCHES) :] == ["trained"] * (len(ALIKE) + 1)


def test_an_argument_one_rank_alone_refuses_is_refused_on_every_rank(tmp_path):
    done = mpirun(tmp_path, """
        x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        model.compile()
        try:
            model.fit(x[:, : 3 - rank], y, epochs=2, verbose=0, distributed=True)
        except ValueError as exc:
            report(found=nn.distributed.world().allgather(f"{type(exc).__name__}: {exc}"))
    """, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = done.result["found"]
    assert second.startswith("ValueError: X of shape (64, 2) does not fit the model (its first sample: layer 'dense'")
    assert first == f"ArgumentError: rank 1 of 2 refused to start fit, so every rank stops: {second}"


RANK_FROM_THE_ENVIRONMENT = """
import os, signal, sys, time
import numpy as np
import neuronet as nn

L = nn.layers
nn.set_dtype("float64")
rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))  # (nn.distributed untouched)
"""


def test_nan_on_one_rank_ends_the_job_with_its_message_though_the_script_never_touched_nn_distributed(tmp_path):
    done = mpirun(tmp_path, """
        x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
        if rank == 1:
            x[5, 1] = np.nan
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        model.compile()
        model.fit(x, y, epochs=2, verbose=0, distributed=True)
        print("FINISHED", rank, flush=True)
    """, prelude=RANK_FROM_THE_ENVIRONMENT, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "FINISHED" not in done.stdout
    assert "rank 1 of 2 refused to start fit, so every rank stops: ArgumentError: X contains 1 NaN" in done.stderr
    assert done.stderr.count("X contains 1 NaN or infinite value(s); clean or impute them") >= 2  # rank 1's own too


FAULTY_FIT = """
class Fault(nn.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_batch_end(self, batch, logs=None):
        if rank == 1 and self.epoch == 1 and batch == 2:
            FAULT
x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
model.compile()
model.fit(x, y, epochs=50, batch_size=4, callbacks=[Fault()], verbose=0, distributed=True)
print("FINISHED", rank, flush=True)
"""


# what rank 1 does (after its third batch of epoch 2, or before fit), and where rank 0 says it waited in vain
STUCK = [
    ("time.sleep(120)", "waited 2 s in vain at the gradient sum of epoch 2, batch 4"),
    ("while True: pass", "waited 2 s in vain at the gradient sum of epoch 2, batch 4"),
    ("sys.exit(3)", "waited 2 s in vain at the gradient sum of epoch 2, batch 4"),
    ("BEFORE nn.distributed.rank(); time.sleep(120)", "waited 2 s in vain at the start-up check of fit"),
    ("BEFORE time.sleep(120)", "MPI did not start within 2 s"),
    ("BEFORE raise RuntimeError('rank 1 failed before fit')", "MPI did not start within 2 s"),
]


@pytest.mark.parametrize("fault, message", STUCK)
def test_a_stuck_rank_makes_the_others_end_the_job_after_the_timeout_naming_the_step(tmp_path, fault, message):
    """A sleeping rank, one in an endless loop, one that left, one that never calls fit or never gets as
    far as MPI's start: the other ends the job once the timeout (NEURONET_MPI_TIMEOUT here) has passed."""
    if fault.startswith("BEFORE "):
        body = f"if rank == 1:\n    {fault[7:]}\n" + FAULTY_FIT.replace("FAULT", "pass")
    else:
        body = FAULTY_FIT.replace("FAULT", fault)
    done = mpirun(tmp_path, body, prelude=RANK_FROM_THE_ENVIRONMENT, timeout=60, NEURONET_MPI_TIMEOUT="2")
    assert done.returncode != 0 and "FINISHED" not in done.stdout
    assert f"neuronet: rank 0 of 2: {message}" in done.stderr, done.stderr[-3000:]
    assert "raise the timeout: nn.distributed.set_timeout(seconds) or the environment variable " in done.stderr
    assert "NEURONET_MPI_TIMEOUT=seconds" in done.stderr


def test_set_timeout_sets_the_deadline_of_every_step(tmp_path):
    body = "nn.distributed.set_timeout(1.5)\n" + FAULTY_FIT.replace("FAULT", "time.sleep(120)")
    done = mpirun(tmp_path, body, prelude=RANK_FROM_THE_ENVIRONMENT, timeout=60)
    assert done.returncode != 0 and "FINISHED" not in done.stdout
    assert "neuronet: rank 0 of 2: waited 1.5 s in vain at the gradient sum of epoch 2, batch 4" in done.stderr


def test_a_rank_killed_mid_training_ends_the_job(tmp_path):
    body = FAULTY_FIT.replace("FAULT", "os.kill(os.getpid(), signal.SIGKILL)")
    done = mpirun(tmp_path, body, prelude=RANK_FROM_THE_ENVIRONMENT, timeout=60, NEURONET_MPI_TIMEOUT="2")
    assert done.returncode != 0 and "FINISHED" not in done.stdout
    said = done.stdout + done.stderr  # (mpiexec reports a rank killed by a signal, on its standard output)
    assert "signal 9" in said or "waited 2 s in vain at the gradient sum of epoch 2, batch 4" in said, said[-3000:]


def test_the_timeout_comes_from_set_timeout_or_the_environment_and_nonsense_is_refused(monkeypatch):
    monkeypatch.delenv("NEURONET_MPI_TIMEOUT", raising=False)
    assert nn.distributed.get_timeout() == 300
    monkeypatch.setenv("NEURONET_MPI_TIMEOUT", "7.5")
    assert nn.distributed.get_timeout() == 7.5
    try:
        nn.distributed.set_timeout(2)
        assert nn.distributed.get_timeout() == 2  # set_timeout's comes first
    finally:
        nn.distributed.set_timeout(None)
    assert nn.distributed.get_timeout() == 7.5
    for text in ("abc", "0", "-3", "inf", ""):
        monkeypatch.setenv("NEURONET_MPI_TIMEOUT", text)
        with pytest.raises(ValueError, match=r"NEURONET_MPI_TIMEOUT must be a positive number of seconds, e.g. 600"):
            nn.distributed.get_timeout()
    for bad in (0, -1.0, "5", float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="seconds must be"):
            nn.distributed.set_timeout(bad)


def test_a_rank_that_waited_in_vain_names_the_ranks_it_did_not_hear_from_and_the_last_checkpoint(tmp_path):
    from neuronet import process

    nn.set_seed(0)
    model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
    model.compile()
    checkpoint = nn.callbacks.ModelCheckpoint(tmp_path / "ckpt-{epoch}.nnet", monitor="loss", save_best_only=False)
    model.fit(np.zeros((8, 3)), np.arange(8) % 2, epochs=2, callbacks=[checkpoint], verbose=0)
    assert process.last_checkpoint() == (str(tmp_path / "ckpt-2.nnet"), 2)
    said = nn.distributed.timed_out(1, 2, 10, "the gradient sum of epoch 3, batch 1")
    assert said.startswith("waited 10 s in vain at the gradient sum of epoch 3, batch 1: rank 0 did not answer (")
    assert f"The last checkpoint: {tmp_path / 'ckpt-2.nnet'} (epoch 2, written by rank 0). The job ends." in said
    assert "NEURONET_MPI_TIMEOUT=seconds" in said
    assert ": one or more of ranks 0, 1, 3 did not answer" in nn.distributed.timed_out(2, 4, 10, "x")
    before_any = "import neuronet as nn; print(nn.distributed.timed_out(0, 2, 5, 'x'))"
    fresh = subprocess.run([sys.executable, "-c", before_any], capture_output=True, text=True, timeout=60)
    assert ": rank 1 did not answer (" in fresh.stdout and "No checkpoint was written" in fresh.stdout, fresh.stderr


def test_an_abort_that_returns_still_ends_the_rank(tmp_path):
    """MPICH's MPI_Abort returns before mpiexec ends the rank (seen with the MPICH wheel): the rank must not
    go on meanwhile, training or finishing its script. A communicator that behaves so stands in for it."""
    script = tmp_path / "abort.py"
    script.write_text(textwrap.dedent("""
        import neuronet as nn
        class Comm:
            def Get_rank(self): return 1
            def Get_size(self): return 2
            def Abort(self, code): print("abort asked", flush=True)
        nn.distributed.world = lambda: Comm()
        nn.distributed.abort(RuntimeError("the disk of rank 1 is full"))
        print("went on", flush=True)
    """))  # fmt: skip
    done = run_bounded([sys.executable, str(script)], 60)
    assert done.returncode == 1 and done.stdout == "abort asked\n"
    assert "neuronet: rank 1 of 2: RuntimeError: the disk of rank 1 is full" in done.stderr


def test_a_progress_bar_on_rank_0_gathers_no_metrics_alone(tmp_path):
    """On a terminal (or in a notebook) a bar would score its live metrics every few batches, on rank 0
    alone: a gather the other ranks never join. Rank 0 prints lines instead."""
    done = mpirun(tmp_path, """
        import itertools
        if rank == 0:  # a terminal, and a clock by which the bar's live metrics are always due
            nn.training.interactive = lambda: True
            ticks = itertools.count()
            nn.training.time = type("Clock", (), {"monotonic": staticmethod(lambda: next(ticks))})
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        model.compile(metrics=["accuracy"])
        x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
        history = model.fit(x, y, epochs=2, batch_size=2, verbose=1, distributed=True)
        report(accuracy=history.history["accuracy"])
    """, timeout=60, NEURONET_MPI_TIMEOUT="5")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.result["accuracy"]) == 2
    assert done.stderr.count("Epoch 2/2 - loss: ") == 1


def test_the_mpi_part_of_the_fuzz_harness_ends_every_job_clearly(tmp_path):
    """A seeded share of ``python tests/fuzz.py --mpi N``: ranks called differently, or one rank failing."""
    import fuzz

    fuzz.FAILURES.clear()
    counts = fuzz.fuzz_mpi(5, np.random.default_rng(0), str(tmp_path))
    assert sum(counts.values()) == 5
    assert counts["hang"] == counts["unclear"] == counts["wrong"] == 0, fuzz.FAILURES
    assert counts["clear"] > 0


def test_a_checkpoint_of_rank_0_resumes_a_distributed_run_and_batchnorm_statistics_agree(tmp_path):
    done = mpirun(tmp_path, """
        nn.set_seed(rank)  # each rank its own starting weights: rank 0's are taken
        model = nn.Sequential([L.Dense(4, 8), L.BatchNormalization(8), L.ReLU(), L.Dense(8, 2, activation="softmax")])
        model.compile(optimizer=nn.optimizers.Adam(0.01))
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((128, 4)), (rng.standard_normal(128) > 0).astype(int)
        checkpoint = nn.callbacks.ModelCheckpoint("ckpt.nnet", monitor="loss", save_best_only=False)
        first = model.fit(x, y, epochs=3, batch_size=16, callbacks=[checkpoint], verbose=0, distributed=True)
        resumed = nn.load_model("ckpt.nnet")
        resumed.compile(optimizer=nn.optimizers.Adam(0.01))
        second = resumed.fit(x, y, epochs=3, batch_size=16, verbose=0, distributed=True)
        comm = nn.distributed.world()
        digests = comm.allgather([w.tobytes().hex()[:64] + str(np.abs(w).sum()) for w in resumed.get_weights()])
        report(same=digests[0] == digests[1], first=first.history["loss"], second=second.history["loss"],
               stats=[float(v) for v in resumed.layers[1].running_var[:3]])
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.result["same"]  # weights and running statistics alike on both ranks
    assert done.result["second"][-1] < done.result["first"][0]
    assert (tmp_path / "ckpt.nnet").exists() and not list(tmp_path.glob("*.tmp*"))


def test_the_command_line_distributes_by_itself_and_rank_0_writes(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,label"] + [f"{u:.3f},{v:.3f},{'yes' if u + v > 0 else 'no'}" for u, v in rng.standard_normal((80, 2))]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "neuronet", "train", "data.csv", "--target",
                           "label", "--epochs", "5", "--out", "m.nnet", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("saved to") == 1  # rank 0's report alone
    assert nn.load_model(tmp_path / "m.nnet").predict(np.zeros((1, 2))).shape == (1, 2)


def test_alone_distributed_is_plain_training_and_without_mpi4py_under_mpiexec_it_says_how(monkeypatch):
    from conftest import refuse_imports

    x, y = np.random.default_rng(0).standard_normal((32, 3)), np.arange(32) % 2
    results = []
    for distributed in (False, True):
        nn.set_seed(0)
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        model.compile()
        results.append(model.fit(x, y, epochs=2, verbose=0, distributed=distributed).history["loss"])
    assert results[0] == results[1]
    refuse_imports(monkeypatch, "mpi4py")
    monkeypatch.setenv("PMI_SIZE", "2")
    nn.distributed.world.cache_clear()
    try:
        with pytest.raises(ImportError, match=r'mpi4py is missing: pip install "neuronet\[mpi\]"'):
            model.fit(x, y, verbose=0, distributed=True)
    finally:
        nn.distributed.world.cache_clear()


def test_synchronized_batchnorm_on_two_ranks_ends_where_one_process_ends_and_the_unsynchronized_does_not(tmp_path):
    """BatchNormalization(synchronized=True) sums its batch statistics over the ranks: 2 ranks with batch 8 end
    where one process with batch 16 ends (weights and running statistics, 1e-8 in float64), a dense and a conv
    model, 85 samples so that the last batch of 5 is cut into parts of 3 and 2. The unsynchronized layer, each
    rank normalising by its own part, ends measurably elsewhere (ChainerMN's negative control)."""
    done = mpirun(tmp_path, """
        def build(kind, synchronized):
            nn.set_seed(0)
            if kind == "dense":
                layers = [L.Dense(5, 8), L.BatchNormalization(synchronized=synchronized), L.ReLU(),
                          L.Dense(8, 3, activation="softmax")]
            else:
                layers = [L.Conv2D(1, 3, 3, padding="same"), L.BatchNormalization(synchronized=synchronized),
                          L.ReLU(), L.Flatten(), L.Dense(48, 3, activation="softmax")]
            model = nn.Sequential(layers)
            # (not Adam: the bias before BatchNormalization has a gradient of zero, and rounding's noise there,
            # divided by its own size, would take steps of the learning rate in any direction)
            model.compile(optimizer=nn.optimizers.SGD(0.05, momentum=0.9))
            return model
        def apart(a, b):  # (relative to the largest value: the bias before the normalisation stays near 0)
            return max(float(np.abs(u - v).max()) for u, v in zip(a, b)) / max(float(np.abs(v).max()) for v in b)
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, 85)
        found = {}
        for kind in ("dense", "conv"):
            x = rng.standard_normal((85, 5)) if kind == "dense" else rng.standard_normal((85, 4, 4, 1))
            alone = build(kind, True)
            alone.fit(x, y, epochs=2, batch_size=16, verbose=0)
            for synchronized in (True, False):
                model = build(kind, synchronized)
                model.fit(x, y, epochs=2, batch_size=8, verbose=0, distributed=True)
                norm, reference = model.layers[1], alone.layers[1]
                found[f"{kind} {synchronized}"] = {
                    "weights": apart(model.get_weights(), alone.get_weights()),
                    "statistics": apart([norm.running_mean, norm.running_var],
                                        [reference.running_mean, reference.running_var]),
                }
        report(found=found)
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for kind in ("dense", "conv"):
        synchronized, unsynchronized = done.result["found"][f"{kind} True"], done.result["found"][f"{kind} False"]
        assert synchronized["weights"] < 1e-8 and synchronized["statistics"] < 1e-8, (kind, synchronized)
        assert unsynchronized["weights"] > 1e-4 and unsynchronized["statistics"] > 1e-4, (kind, unsynchronized)


def test_each_rank_reads_only_its_part_of_a_dataset_and_the_ranks_end_where_one_process_ends(tmp_path):
    """fit(dataset, distributed=True), shuffled, with a validation dataset: the sample indices the two ranks ask
    for are disjoint and together cover each epoch (training and validation alike), and the weights equal those
    of one process trained on the same arrays with the doubled batch (1e-8)."""
    done = mpirun(tmp_path, """
        class Recording(nn.data.ArrayDataset):
            def __init__(self, x, y):
                super().__init__(x, y)
                self.requests = []
            def __getitem__(self, indices):
                self.requests.append(np.asarray(indices).tolist())
                return super().__getitem__(indices)
        def build():
            nn.set_seed(0)
            model = nn.Sequential([L.Dense(5, 8, activation="relu"), L.Dense(8, 3, activation="softmax")])
            model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
            return model
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((100, 5)), rng.integers(0, 3, 100)
        train, validation = Recording(x[:80], y[:80]), Recording(x[80:], y[80:])
        model = build()
        history = model.fit(train, epochs=2, batch_size=8, validation_data=validation, verbose=0, distributed=True)
        alone = build()
        expected = alone.fit(x[:80], y[:80], epochs=2, batch_size=16, validation_data=(x[80:], y[80:]), verbose=0)
        weights = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), alone.get_weights()))
        comm = nn.distributed.world()
        report(weights=weights, history=history.history, expected=expected.history,
               train=comm.allgather(train.requests[1:]), validation=comm.allgather(validation.requests[1:]))
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = done.result
    assert found["weights"] < 1e-8
    for key, values in found["expected"].items():
        np.testing.assert_allclose(found["history"][key], values, rtol=1e-8, err_msg=key)
    for name, n, batches in (("train", 80, 5), ("validation", 20, 1)):
        first, second = found[name]
        assert len(first) == len(second) == 2 * batches, name
        for epoch in range(2):
            mine = [i for r in first[epoch * batches : (epoch + 1) * batches] for i in r]
            theirs = [i for r in second[epoch * batches : (epoch + 1) * batches] for i in r]
            assert not set(mine) & set(theirs), name
            assert sorted(mine + theirs) == list(range(n)), name
