"""The GPU checks in one run, for a machine with an NVIDIA GPU, CuPy and a CUDA build of PyTorch: the GPU
tests, then the speed against PyTorch CUDA.

    python bench/gpu.py                 # everything, about 3-4 minutes on an H200
    python bench/gpu.py --skip-tests    # the benchmarks alone
    python bench/gpu.py --skip-tests lstm gru   # the benchmarks of some workloads
    python bench/gpu.py --profile mlp 1024   # where one epoch's time goes on the host (cProfile)

(a) runs ``tests/test_gpu.py`` (every layer's passes and 20 optimizer steps of
four models equal the CPU's in float64 to 1e-10); (b) times training of
``mlp``, ``mlp_big``, ``cnn``, ``lstm`` and ``gru`` (``bench/run.py``'s workloads) at
batch 128 and 1024, and inference (``infer``) at 1024, neuronet on CuPy
against the same model in PyTorch CUDA, each side in its own process,
alternating; (c) prints one JSON line per figure. Every timed epoch ends
with a device synchronisation, so that it counts the work and not only its
launch. PyTorch runs twice: its plain loop, each batch gathered on the host
and copied over (``ratio``), and with the data moved to the GPU once and
each batch gathered there (``ratio_to_resident``), as neuronet's ``fit``
does when its arrays take at most a quarter of the GPU's free memory and a
batch is 1 MiB or more (``CupyOps.holds_data``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as cpu_bench  # noqa: E402 (bench/run.py: the workloads and their models)

CASES = [(w, b) for w in ("mlp", "mlp_big", "cnn", "lstm", "gru") for b in (128, 1024)] + [("infer", 1024)]


def run_neuronet(name, batch, epochs):
    """Seconds per timed epoch of the workload on the GPU, in one ``fit`` (after a warm-up epoch), as
    ``bench/run.py`` times the CPU; each epoch ends with the device synchronised."""
    import cupy

    import neuronet as nn

    _, _, n, _, train, _ = cpu_bench.WORKLOADS[name]
    nn.set_seed(0)
    model = cpu_bench.neuronet_model(name).to("gpu")
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    X, y = cpu_bench.data(name)
    sync = cupy.cuda.Device().synchronize
    times = []
    if train:

        class Timer(nn.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                sync()
                times.append(time.perf_counter() - self.t)

        model.fit(X, y, epochs=epochs + 1, batch_size=batch, verbose=0, callbacks=[Timer()])
    else:
        for _ in range(epochs + 1):
            t = time.perf_counter()
            model.predict(X, batch_size=batch)
            sync()
            times.append(time.perf_counter() - t)
    return times[1:]


def run_torch(name, batch, epochs, resident=False):
    import torch

    torch.manual_seed(0)
    return cpu_bench.torch_times(name, batch, epochs, device=torch.device("cuda"), resident=resident)


def profile(name: str, batch: int) -> None:
    """Print the functions that hold the host's time while a run builds the model, makes its data and trains one
    epoch (after a first run, in which CuPy compiles its kernels): on a GPU, small models are bound by the
    host's calls and launches, not by the device's arithmetic."""
    import cProfile
    import pstats

    run_neuronet(name, batch, 0)  # (the warm-up: CuPy compiles its kernels)
    profiler = cProfile.Profile()
    profiler.runcall(run_neuronet, name, batch, 0)  # (a model built, and one epoch)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def benchmarks(rounds: int, epochs: int, workloads: list[str]) -> None:
    for name, batch in CASES:
        if workloads and name not in workloads:
            continue
        n = cpu_bench.WORKLOADS[name][2]
        rates = {"neuronet": [], "torch": [], "torch_resident": []}
        for _ in range(rounds):
            for side in rates:
                cmd = [sys.executable, __file__, "--worker", side, name, str(batch), "--epochs", str(epochs)]
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if done.returncode:
                    print(json.dumps({"workload": name, "batch": batch, "side": side, "error": done.stderr[-800:]}))
                    break
                rates[side] += [n / t for t in json.loads(done.stdout.splitlines()[-1])["times"]]
        if all(rates.values()):
            med = {side: statistics.median(v) for side, v in rates.items()}
            print(json.dumps({
                "workload": name, "batch": batch, **{f"{side}_samples_per_s": round(m) for side, m in med.items()},
                "ratio": round(med["neuronet"] / med["torch"], 3),
                "ratio_min": round(min(rates["neuronet"]) / max(rates["torch"]), 3),
                "ratio_max": round(max(rates["neuronet"]) / min(rates["torch"]), 3),
                "ratio_to_resident": round(med["neuronet"] / med["torch_resident"], 3),
            }), flush=True)  # fmt: skip


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", help="the workloads to time (default: every one)")
    ap.add_argument("--skip-tests", action="store_true", help="the benchmarks alone, without tests/test_gpu.py")
    ap.add_argument("--rounds", type=positive, default=1, help="neuronet/PyTorch process pairs per case (default 1)")
    ap.add_argument("--epochs", type=positive, default=3, help="timed epochs per process, after a warm-up (default 3)")
    ap.add_argument("--profile", nargs=2, metavar=("WORKLOAD", "BATCH"), help="profile one epoch of neuronet")
    ap.add_argument("--worker", nargs=3, metavar=("SIDE", "WORKLOAD", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    unknown = sorted({*args.workloads} - {name for name, _ in CASES})
    if unknown:
        ap.error(f"no GPU case for {', '.join(unknown)}; the workloads are {', '.join(dict(CASES))}")
    if args.profile:
        name, batch = args.profile
        if name not in cpu_bench.WORKLOADS:
            ap.error(f"--profile takes a workload ({', '.join(cpu_bench.WORKLOADS)}) and a batch size, not {name!r}")
        try:
            positive(batch)
        except argparse.ArgumentTypeError as exc:
            ap.error(f"--profile's batch size {exc}")
    if args.worker:
        side, name, batch = args.worker
        if side == "neuronet":
            times = run_neuronet(name, int(batch), args.epochs)
        else:
            times = run_torch(name, int(batch), args.epochs, resident=side == "torch_resident")
        print(json.dumps({"times": times}))
        return 0
    import neuronet as nn

    if not nn.gpu_available():
        print(json.dumps({"error": f"no GPU: {nn.gpu.why_no_gpu()}"}))
        return 1
    if args.profile:
        profile(args.profile[0], int(args.profile[1]))
        return 0
    if not args.skip_tests:
        tests = os.path.join(HERE, "..", "tests", "test_gpu.py")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
                              capture_output=True, text=True)  # fmt: skip
        print(done.stdout[-3000:], file=sys.stderr)
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-800:]
        print(json.dumps({"gpu_tests": summary, "returncode": done.returncode}), flush=True)
    benchmarks(args.rounds, args.epochs, args.workloads)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
