"""Speed of neuronet against PyTorch CPU on the workloads of shared/BENCHMARKS.md.

    python bench/run.py                    # mlp, mlp_big, infer
    python bench/run.py mlp --rounds 3     # one workload, more rounds

Each side runs in its own process (so each one's peak memory is its own),
alternating neuronet / PyTorch / neuronet / PyTorch so that machine drift hits
both. Each process does one warm-up epoch, then ``--epochs`` timed epochs.
The table gives median samples/s with the min-max spread over all timed
epochs, the ratio neuronet / PyTorch, and how close each side gets to the
GEMM floor (the step's matrix-product FLOPs over this machine's float32
GEMM rate).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

WORKLOADS = {
    # name: (layer sizes, samples, batch, training?)
    "mlp": ([784, 128, 10], 60000, 128, True),
    "mlp_big": ([784, 512, 512, 10], 60000, 128, True),
    "infer": ([784, 512, 512, 10], 60000, 1024, False),
}


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info

        return max(int(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas")
    except Exception:
        return os.cpu_count() or 1


def data(sizes, n):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    return X, y


def run_neuronet(sizes, n, batch, train, epochs):
    import neuronet as nn

    nn.set_seed(0)
    layers = [nn.layers.Dense(a, b, activation="relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
    layers.append(nn.layers.Dense(sizes[-2], sizes[-1], activation="softmax"))
    model = nn.Sequential(layers)
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    X, y = data(sizes, n)
    times = []
    if train:

        class Timer(nn.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        model.fit(X, y, epochs=epochs + 1, batch_size=batch, verbose=0, callbacks=[Timer()])
    else:
        for _ in range(epochs + 1):
            t = time.perf_counter()
            model.predict(X, batch_size=batch)
            times.append(time.perf_counter() - t)
    return times[1:]


def run_torch(sizes, n, batch, train, epochs):
    import torch

    torch.set_num_threads(blas_threads())
    torch.manual_seed(0)
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods[:-1])
    X, y = data(sizes, n)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        if train:
            perm = torch.randperm(n)
            total = 0.0
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
                total += loss.item()
        else:
            with torch.no_grad():
                for i in range(0, n, batch):
                    model(X[i : i + batch])
        times.append(time.perf_counter() - t)
    return times[1:]


def gemm_rate() -> float:
    """Measured float32 GEMM rate of this machine in FLOP/s (NumPy's BLAS, best of 5)."""
    a = np.ones((2048, 2048), np.float32)
    best = min(_time(lambda: a @ a) for _ in range(5))
    return 2 * 2048**3 / best


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def worker(side, name, epochs):
    sizes, n, batch, train = WORKLOADS[name]
    fn = run_neuronet if side == "neuronet" else run_torch
    times = fn(sizes, n, batch, train, epochs)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "peak_mib": peak_mib}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per process (after one warm-up)")
    ap.add_argument("--rounds", type=int, default=2, help="neuronet/PyTorch process pairs per workload")
    ap.add_argument("--worker", nargs=2, metavar=("SIDE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker, args.epochs)

    rate = gemm_rate()
    print(f"float32 GEMM rate: {rate / 1e9:.0f} GFLOP/s; BLAS threads: {blas_threads()}")
    print(
        "| workload | neuronet samples/s | PyTorch samples/s | ratio (min-max) "
        "| GEMM floor reached n / t | peak MiB n / t |"
    )
    print("|---" * 6 + "|")
    for name in args.workloads:
        sizes, n, batch, train = WORKLOADS[name]
        results = {"neuronet": [], "torch": []}
        peaks = {"neuronet": 0.0, "torch": 0.0}
        for _ in range(args.rounds):
            for side in ("neuronet", "torch"):
                cmd = [sys.executable, __file__, "--worker", side, name, "--epochs", str(args.epochs)]
                out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                results[side] += [n / t for t in out["times"]]
                peaks[side] = max(peaks[side], out["peak_mib"])
        med = {s: statistics.median(v) for s, v in results.items()}
        lo = min(results["neuronet"]) / max(results["torch"])
        hi = max(results["neuronet"]) / min(results["torch"])
        flops = 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * (3 if train else 1)
        floor = rate / flops  # samples/s if every FLOP ran at the GEMM rate
        print(
            f"| {name} | {med['neuronet']:,.0f} | {med['torch']:,.0f} | "
            f"**{med['neuronet'] / med['torch']:.2f}x** ({lo:.2f}-{hi:.2f}) | "
            f"{med['neuronet'] / floor:.0%} / {med['torch'] / floor:.0%} | "
            f"{peaks['neuronet']:.0f} / {peaks['torch']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
