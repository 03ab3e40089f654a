"""The GPU checks of issue 13 in one run, for the GPU machine: tests, then speed against PyTorch CUDA.

    python bench/gpu.py                 # everything, about 6-8 minutes on an H100/H200
    python bench/gpu.py --skip-tests    # the benchmarks alone

(a) runs ``tests/test_gpu.py`` (every layer's passes and 20 optimizer steps of
four models equal the CPU's in float64 to 1e-10); (b) times training of
``mlp``, ``mlp_big``, ``cnn`` and ``lstm`` (``bench/run.py``'s workloads) at
batch 128 and 1024, and inference (``infer``) at 1024, neuronet on CuPy
against the same model in PyTorch CUDA, each side in its own process,
alternating; (c) prints one JSON line per figure. Every timed epoch ends
with a device synchronisation, so that it counts the work and not only its
launch.
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

CASES = [(w, b) for w in ("mlp", "mlp_big", "cnn", "lstm") for b in (128, 1024)] + [("infer", 1024)]


def run_neuronet(name, batch, epochs):
    import cupy

    import neuronet as nn

    _, _, n, _, train, _ = cpu_bench.WORKLOADS[name]
    nn.set_seed(0)
    model = nn.Sequential(cpu_bench.neuronet_model(name)).to("gpu")
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    X, y = cpu_bench.data(name)
    sync = cupy.cuda.Device().synchronize
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        if train:
            model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
        else:
            model.predict(X, batch_size=batch)
        sync()
        times.append(time.perf_counter() - t)
    return times[1:]


def run_torch(name, batch, epochs):
    import torch

    torch.manual_seed(0)
    return cpu_bench.torch_times(name, batch, epochs, device=torch.device("cuda"))


def benchmarks(rounds: int, epochs: int) -> None:
    for name, batch in CASES:
        n = cpu_bench.WORKLOADS[name][2]
        rates = {"neuronet": [], "torch": []}
        for _ in range(rounds):
            for side in rates:
                cmd = [sys.executable, __file__, "--worker", side, name, str(batch), "--epochs", str(epochs)]
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if done.returncode:
                    print(json.dumps({"workload": name, "batch": batch, "side": side, "error": done.stderr[-800:]}))
                    break
                rates[side] += [n / t for t in json.loads(done.stdout.splitlines()[-1])["times"]]
        if rates["neuronet"] and rates["torch"]:
            med = {side: statistics.median(v) for side, v in rates.items()}
            print(json.dumps({
                "workload": name, "batch": batch, "neuronet_samples_per_s": round(med["neuronet"]),
                "torch_samples_per_s": round(med["torch"]), "ratio": round(med["neuronet"] / med["torch"], 3),
                "ratio_min": round(min(rates["neuronet"]) / max(rates["torch"]), 3),
                "ratio_max": round(max(rates["neuronet"]) / min(rates["torch"]), 3),
            }), flush=True)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="neuronet/PyTorch process pairs per case")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per process (after one warm-up)")
    ap.add_argument("--worker", nargs=3, metavar=("SIDE", "WORKLOAD", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        side, name, batch = args.worker
        times = (run_torch if side == "torch" else run_neuronet)(name, int(batch), args.epochs)
        print(json.dumps({"times": times}))
        return 0
    import neuronet as nn

    if not nn.gpu_available():
        print(json.dumps({"error": f"no GPU: {nn.gpu.why_no_gpu()}"}))
        return 1
    if not args.skip_tests:
        tests = os.path.join(HERE, "..", "tests", "test_gpu.py")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
                              capture_output=True, text=True)  # fmt: skip
        print(done.stdout[-3000:], file=sys.stderr)
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-800:]
        print(json.dumps({"gpu_tests": summary, "returncode": done.returncode}), flush=True)
    benchmarks(args.rounds, args.epochs)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
