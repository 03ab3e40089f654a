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
L = nn.layers
nn.set_dtype("float64")
rank, size = nn.distributed.rank(), nn.distributed.size()
def report(**values):
    if rank == 0:
        print("RESULT " + json.dumps(values), flush=True)
"""


def mpirun(tmp_path, body: str, ranks: int = 2, timeout: int = 120, args=()):
    script = tmp_path / "job.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    start = time.monotonic()
    done = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(script), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
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
        report(finished=True)
    """, timeout=60)  # fmt: skip
    assert done.returncode != 0 and done.result is None
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


@pytest.mark.parametrize("mismatch, message", [
    ("x = x[: 60 + rank]", "the 2 ranks hold different training samples ([60, 61])"),
    ("model = nn.Sequential([L.Dense(3, 2 + rank, activation='softmax')])", "the 2 ranks hold different models"),
])  # fmt: skip
def test_ranks_with_different_data_or_models_refuse_to_start(tmp_path, mismatch, message):
    done = mpirun(tmp_path, f"""
        x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
        model = nn.Sequential([L.Dense(3, 2, activation="softmax")])
        {mismatch}
        model.compile()
        model.fit(x, y[: len(x)], epochs=2, verbose=0, distributed=True)
        report(finished=True)
    """, timeout=60)  # fmt: skip
    assert done.returncode != 0 and done.result is None and done.seconds < 30
    assert message in done.stderr


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
