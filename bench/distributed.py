"""Data-parallel training over MPI: how throughput scales with the ranks, on ``bench/run.py``'s workloads.

    python bench/distributed.py                          # mlp_big and cnn, 1 and 2 ranks, both batch modes
    python bench/distributed.py --ranks 1 2 4 8          # on a bigger machine
    python bench/distributed.py --mode per-rank --workloads mlp_big --rounds 3
    python bench/distributed.py --epochs 2 --samples 20000   # a short run on a busy machine

Two ways to add ranks (``--mode``):

- ``per-rank``: every rank a batch of 128, so the global batch grows with the ranks (weak scaling: each step
  does more work in the same time if the ranks scale);
- ``global``: a global batch of 128 cut over the ranks (strong scaling: the same steps, each shared out).

Each run is one process, or ``mpiexec -n RANKS`` of them; each does one warm-up epoch and ``--epochs`` timed
ones, and ``--rounds`` repeats every run, the rank counts alternating (1 2 4 1 2 4 ...) so that the machine's
drift hits them all. Each rank limits its BLAS and neuronet threads to its share of the cores
(``neuronet.distributed`` does it; ``--threads`` gives every rank, and the single process, the same number).

The table gives, per workload, mode and rank count: samples/s, median (min-max) over every timed epoch;
the speed-up against 1 rank in the same mode, and the efficiency (speed-up / ranks); and the Allreduce share
of a step: the time each rank spends inside the MPI step's in-place sums (the gradient, with the loss) over
its epoch's time, the mean over the ranks. It is measured inside real steps: the worker replaces
``neuronet.distributed.sum_in_place``, which the MPI step calls through the module, by a timed wrapper. That
time includes waiting for a slower rank to arrive, so it is the step's whole cost of synchronising.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as cpu_bench  # noqa: E402 (bench/run.py: the workloads and their models)

BATCH = 128  # per rank, or in all (--mode)
THREADS = "NEURONET_THREADS"  # every rank's threads, when set (neuronet.distributed reads it)


def worker(name: str, batch: int, epochs: int, samples: int | None) -> None:
    """Train ``name`` with ``batch`` samples per rank for one warm-up and ``epochs`` timed epochs; rank 0
    prints one JSON line: the epochs' seconds and each rank's share of them spent in the in-place sums."""
    import neuronet as nn
    from neuronet import distributed

    comm = distributed.world()  # starts MPI when launched by mpiexec; each rank then takes its share of cores
    if comm is None and THREADS in os.environ:  # (a process on its own: the same limit, applied here)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(os.environ[THREADS]))
        nn.set_threads(int(os.environ[THREADS]))

    summing = distributed.sum_in_place
    in_sums = [0.0, 0]  # seconds inside sum_in_place so far, and its calls

    def timed_sum(*args, **kwargs):
        start = time.perf_counter()
        summing(*args, **kwargs)
        in_sums[0] += time.perf_counter() - start
        in_sums[1] += 1

    distributed.sum_in_place = timed_sum  # the MPI step looks it up in the module at every call

    times, summed = [], []

    class Timer(nn.callbacks.Callback):
        changes_training = False  # (it only measures)

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.summed = time.perf_counter(), in_sums[0]

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            summed.append(in_sums[0] - self.summed)

    nn.set_seed(0)
    X, y = cpu_bench.data(name)
    X, y = X[:samples], y[:samples]
    model = cpu_bench.neuronet_model(name)
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    model.fit(X, y, epochs=epochs + 1, batch_size=batch, verbose=0, callbacks=[Timer()], distributed=True)
    times, summed = times[1:], summed[1:]  # (the warm-up epoch dropped)
    if comm is not None and not in_sums[1]:  # (a share of 0 would then be a lie, not a fast Allreduce)
        raise RuntimeError("the MPI step no longer calls distributed.sum_in_place: the Allreduce went untimed")

    share = sum(summed) / sum(times)
    shares = [share] if comm is None else comm.gather(share, root=0)
    if distributed.rank() == 0:
        steps = -(-len(X) // (batch * distributed.size())) * epochs
        report = {"ranks": distributed.size(), "threads": nn.get_threads(), "samples": len(X), "times": times}
        report |= {"sum_ms_per_step": sum(summed) / steps * 1e3, "sum_shares": shares}
        print(json.dumps(report))


def launch(name: str, ranks: int, batch: int, args) -> dict:
    """One run: a process on its own for 1 rank, else ``mpiexec -n ranks``; rank 0's report."""
    cmd = [sys.executable, __file__, "--worker", name, str(batch), "--epochs", str(args.epochs)]
    cmd += ["--samples", str(args.samples)] if args.samples else []
    if ranks > 1:
        path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"  # (the venv's MPI first)
        cmd = [shutil.which("mpiexec", path=path), "-n", str(ranks), *cmd]
    env = {**os.environ, THREADS: str(args.threads)} if args.threads else None
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} cores ({cpu}){load}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", nargs="+", default=["mlp_big", "cnn"], choices=["mlp_big", "cnn"])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--mode", choices=["per-rank", "global", "both"], default="both",
                    help=f"a batch of {BATCH} on every rank, {BATCH} in all cut over the ranks, or both")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per run (after one warm-up)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of every rank count, alternating")
    ap.add_argument("--samples", type=int, help="train on the first SAMPLES of the workload's data (default all)")
    ap.add_argument("--threads", type=int, help="threads of every rank (default: its share of the cores)")
    ap.add_argument("--json", metavar="PATH", help="also write every run's figures to PATH")
    ap.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), args.epochs, args.samples)

    modes = ["per-rank", "global"] if args.mode == "both" else [args.mode]
    print(f"{time.strftime('%Y-%m-%d')}, {machine()}; {args.epochs} timed epochs x {args.rounds} round(s)\n")
    print("| workload | batch | ranks x threads | batch per rank | samples/s (min-max) | speed-up | efficiency "
          "| Allreduce share of a step |")  # fmt: skip
    print("|---" * 8 + "|")
    results = []  # (for --json)
    for name in args.workloads:
        for mode in modes:
            rates = {ranks: [] for ranks in args.ranks}
            shares = {ranks: [] for ranks in args.ranks}  # every rank's, of every run
            sum_ms = {ranks: [] for ranks in args.ranks}  # rank 0's per step, of every run
            threads = {}
            for _ in range(args.rounds):
                for ranks in args.ranks:
                    batch = BATCH if mode == "per-rank" else BATCH // ranks
                    out = launch(name, ranks, batch, args)
                    rates[ranks] += [out["samples"] / t for t in out["times"]]
                    shares[ranks] += out["sum_shares"]
                    sum_ms[ranks].append(out["sum_ms_per_step"])
                    threads[ranks] = out["threads"]
            base = statistics.median(rates[1]) if 1 in rates else None
            for ranks, rate in rates.items():
                med = statistics.median(rate)
                batch = BATCH if mode == "per-rank" else BATCH // ranks
                speed = f"{med / base:.2f}x | {med / base / ranks:.0%}" if base else "- | -"
                sums = "-"
                if ranks > 1:
                    sums = f"{statistics.mean(shares[ranks]):.0%} ({statistics.median(sum_ms[ranks]):.2f} ms a step)"
                results.append({"workload": name, "mode": mode, "ranks": ranks, "threads": threads[ranks],
                                "batch_per_rank": batch, "samples_per_s": rate, "sum_shares": shares[ranks],
                                "sum_ms_per_step": sum_ms[ranks]})  # fmt: skip
                print(f"| {name} | {mode} {BATCH} | {ranks} x {threads[ranks]} | {batch} | "
                      f"{med:,.0f} ({min(rate):,.0f}-{max(rate):,.0f}) | {speed} | {sums} |", flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": machine(), "epochs": args.epochs,
                       "rounds": args.rounds, "samples": args.samples, "runs": results}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
