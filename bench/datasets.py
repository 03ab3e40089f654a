"""What reading from a dataset costs against arrays in memory, and whether reading ahead pays.

    python bench/datasets.py                    # mlp and mlp_big, 3 rounds
    python bench/datasets.py --rounds 5 --cold  # also with the file's pages dropped before each epoch (root)

Each round trains one epoch of each way, alternating, in this process (one warm-up epoch each first):
the arrays in memory; an ``NpyDataset`` of the same data (a memory-mapped ``.npy`` file), reading the next
batch in a background thread (``prefetch.py``) and without; with ``--cold`` the same two with the page cache
dropped before the epoch (``/proc/sys/vm/drop_caches``, root only), so that every page comes from the disk.
Samples/s, median (min-max) over the rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as cpu_bench  # noqa: E402 (bench/run.py: the workloads and their models)

import neuronet as nn  # noqa: E402
from neuronet import prefetch  # noqa: E402


def epoch(model, data, y, batch: int, ahead: bool, cold: bool) -> float:
    """Samples/s of one shuffled epoch on ``data`` (arrays, or a dataset when ``y`` is None)."""
    reading = prefetch.ahead  # (the loop calls it through the module: replaced here for this epoch alone)
    prefetch.ahead = reading if ahead else (lambda reads, enabled=True: reading(reads, False))
    if cold:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    try:
        start = time.perf_counter()
        model.fit(data, y, epochs=1, batch_size=batch, verbose=0)
        return len(data) / (time.perf_counter() - start)
    finally:
        prefetch.ahead = reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["mlp", "mlp_big"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also drop the page cache before each epoch (root)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="neuronet-bench-")
    try:
        print("| workload | way | samples/s | vs arrays |\n|---|---|---|---|")
        for workload in args.workloads:
            X, y = cpu_bench.data(workload)
            np.save(os.path.join(folder, "X.npy"), X)
            np.save(os.path.join(folder, "y.npy"), y)
            dataset = nn.data.NpyDataset(os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy"))
            ways = {
                "arrays in memory": (X, y, True, False),
                "NpyDataset, read ahead": (dataset, None, True, False),
                "NpyDataset, read when needed": (dataset, None, False, False),
            }
            if args.cold:
                ways["NpyDataset from disk, read ahead"] = (dataset, None, True, True)
                ways["NpyDataset from disk, read when needed"] = (dataset, None, False, True)
            nn.set_seed(0)
            model = cpu_bench.neuronet_model(workload)
            model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
            found = {way: [] for way in ways}
            for data, targets, ahead, cold in ways.values():  # warm-up
                epoch(model, data, targets, 128, ahead, cold)
            for _ in range(args.rounds):
                for way, (data, targets, ahead, cold) in ways.items():
                    found[way].append(epoch(model, data, targets, 128, ahead, cold))
            base = statistics.median(found["arrays in memory"])
            for way, rates in found.items():
                median, spread = statistics.median(rates), f"{min(rates):,.0f}-{max(rates):,.0f}"
                print(f"| {workload} | {way} | {median:,.0f} ({spread}) | {median / base:.2f}x |")
            del dataset
    finally:  # (the copies of the data go, whatever happens)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
