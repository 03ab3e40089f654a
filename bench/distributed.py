"""Data-parallel training over MPI against one process, on ``mlp_big`` (``bench/run.py``'s workload).

    python bench/distributed.py                  # 1 process x all cores, then 2 ranks x cores/2 threads
    python bench/distributed.py --ranks 1 2 4 8  # on a bigger machine
    python bench/distributed.py --per-rank       # each rank a batch of 128 (the global batch grows)

The global batch is 128 unless ``--per-rank``; each process does one warm-up epoch and ``--epochs`` timed
ones; ranks limit their threads to their share of the cores (``distributed.py``). It also times the
in-place Allreduce of a buffer as large as the model's gradient, alone, per step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as cpu_bench  # noqa: E402 (bench/run.py: the workloads and their models)

WORKLOAD = "mlp_big"


def worker(batch: int, epochs: int) -> None:
    import neuronet as nn

    nn.set_seed(0)
    model = nn.Sequential(cpu_bench.neuronet_model(WORKLOAD))
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    X, y = cpu_bench.data(WORKLOAD)
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=batch, verbose=0, distributed=True)
        times.append(time.perf_counter() - start)
    allreduce = None
    comm = nn.distributed.world()
    if comm is not None:
        from mpi4py import MPI

        buffer = np.ones(sum(p.data.size for p in model.parameters()), dtype=np.float32)
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(100):
            comm.Allreduce(MPI.IN_PLACE, buffer)
        allreduce = (time.perf_counter() - start) / 100
    if nn.distributed.rank() == 0:
        steps = -(-len(X) // (batch * nn.distributed.size()))
        print(json.dumps({"ranks": nn.distributed.size(), "threads": nn.get_threads(), "times": times[1:],
                          "steps": steps, "allreduce_s": allreduce}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-rank", action="store_true", help="a batch of 128 on every rank (not 128 in all)")
    ap.add_argument("--worker", type=int, metavar="BATCH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs)
    mpiexec = shutil.which("mpiexec", path=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}")
    n = cpu_bench.WORKLOADS[WORKLOAD][2]
    print("| ranks x threads | batch per rank | samples/s (min-max) | speed-up | allreduce per step |")
    print("|---|---|---|---|---|")
    base = None
    for ranks in args.ranks:
        batch = 128 if args.per_rank else 128 // ranks
        cmd = [sys.executable, __file__, "--worker", str(batch), "--epochs", str(args.epochs)]
        if ranks > 1:
            cmd = [mpiexec, "-n", str(ranks), *cmd]
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        rates = [n / t for t in out["times"]]
        med = statistics.median(rates)
        base = base or med
        reduce = "-"
        if out["allreduce_s"]:
            share = out["allreduce_s"] * out["steps"] / min(out["times"])
            reduce = f"{out['allreduce_s'] * 1e3:.2f} ms ({share:.0%} of a step's time)"
        print(f"| {ranks} x {out['threads']} | {batch} | {med:,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) | "
              f"{med / base:.2f}x | {reduce} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
