"""How the cost of an epoch grows: with the data (1x, 4x, 16x samples) and with the width of the network.

    python bench/growth.py                  # mlp (784 -> hidden -> 10, Adam, batch 128)
    python bench/growth.py --rounds 5

Two tables. Data: the mlp with 128 hidden units on 5,000, 20,000 and 80,000 samples; an epoch's time should
grow in proportion (the time per sample stays put). Width: 20,000 samples, 128, 512 and 2048 hidden units; the
matrix products' share of an epoch (their floating-point operations at this machine's measured GEMM rate,
training counted as 3 forward passes' products, over the epoch's time) should grow with the width, as the
per-batch work that is no product (the activations, the loss, the update, Python) grows only with the
width's first power while the products grow with its product with the inputs. Each figure is the median of
``--rounds`` timed epochs after a warm-up epoch, all in one ``fit`` (whose start-up is no epoch's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as cpu_bench  # noqa: E402 (bench/run.py: the GEMM rate)

import neuronet as nn  # noqa: E402

BATCH = 128


class EpochClock(nn.callbacks.Callback):
    """Each epoch's time, inside one fit (fit's own start-up, checking the data, is no epoch's)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def epoch_seconds(samples: int, hidden: int, rounds: int) -> float:
    """The median time of one shuffled epoch of the 784 -> hidden -> 10 MLP on ``samples`` samples."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    nn.set_seed(0)
    model = nn.Sequential(
        [nn.layers.Dense(784, hidden, activation="relu"), nn.layers.Dense(hidden, 10, activation="softmax")]
    )
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    clock = EpochClock()
    model.fit(X, y, epochs=rounds + 1, batch_size=BATCH, verbose=0, callbacks=[clock])  # (the first: warm-up)
    times = clock.times
    return statistics.median(times[1:])


def product_seconds(samples: int, hidden: int, rate: float) -> float:
    """The epoch's matrix products at ``rate`` FLOP/s: forward, and twice that backward."""
    return 3 * 2 * samples * (784 * hidden + hidden * 10) / rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rate = cpu_bench.gemm_rate()
    print(f"float32 GEMM rate: {rate / 1e9:.0f} GFLOP/s; {nn.get_threads()} thread(s)\n")
    print("| samples | hidden | epoch s | us a sample | vs 1x | products' share |\n|---|---|---|---|---|---|")
    first = None
    for samples in (5_000, 20_000, 80_000):
        seconds = epoch_seconds(samples, 128, args.rounds)
        first = first or seconds / samples
        share = product_seconds(samples, 128, rate) / seconds
        print(f"| {samples:,} | 128 | {seconds:.3f} | {1e6 * seconds / samples:.2f} | "
              f"{seconds / samples / first:.2f}x | {share:.0%} |")  # fmt: skip
    print()
    print("| samples | hidden | epoch s | us a sample | products' share |\n|---|---|---|---|---|")
    for hidden in (128, 512, 2048):
        seconds = epoch_seconds(20_000, hidden, args.rounds)
        share = product_seconds(20_000, hidden, rate) / seconds
        print(f"| 20,000 | {hidden} | {seconds:.3f} | {1e6 * seconds / 20_000:.2f} | {share:.0%} |")


if __name__ == "__main__":
    main()
