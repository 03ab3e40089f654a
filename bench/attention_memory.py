"""How the memory of a Transformer's training step grows with the sequence's length.

    python bench/attention_memory.py              # 64, 128 and 256 tokens
    python bench/attention_memory.py 64 512       # other lengths

The ``transformer`` workload of ``bench/run.py`` (two TransformerEncoder blocks of 4 heads, embedding 64,
batch 64) with positions for T tokens, one training step on T-token sequences after a warm-up step, each
length in a process of its own. The peak is what NumPy allocates during the step (tracemalloc sees NumPy's
arrays), above what the model and its optimizer hold before it. An attention layer keeps its weights, one
(batch, heads, T, T) array, for the backward pass; everything else a step makes is (batch, T, features)
sized. So the peak should be about a + b T + c T^2 with c a few such arrays per block, and nothing growing
faster: the table gives the peak in units of one (batch, heads, T, T) float32 array.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

BATCH, HEADS, DIM, FF, BLOCKS, TOKENS = 64, 4, 64, 128, 2, 1000


def measure(length: int) -> dict:
    """The peak NumPy allocation (bytes) of one training step of the model on ``length``-token sequences."""
    import numpy as np

    import neuronet as nn
    from neuronet import steps

    L = nn.layers
    nn.set_seed(0)
    ids = nn.Input(shape=(length,), dtype="int64")
    h = L.PositionalEmbedding(length, DIM)(L.Embedding(TOKENS, DIM)(ids))
    for _ in range(BLOCKS):
        h = L.TransformerEncoder(DIM, HEADS, FF, dropout=0.0)(h)
    model = nn.Model(ids, L.Dense(DIM, 2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    x = rng.integers(0, TOKENS, (BATCH, length))
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, BATCH)]
    step = steps.choose(model)
    step.train_step(x, y)  # the warm-up: the optimizer's state and the flat buffers exist from here on
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    step.train_step(x, y)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return {"length": length, "peak": peak}


def main(lengths: list[int]) -> None:
    rows = []
    for length in lengths:  # each in a fresh process: no memory of the one before
        out = subprocess.run([sys.executable, __file__, "--one", str(length)], capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| tokens T | peak MiB of a step | one (batch, heads, T, T) array, MiB | peak in such arrays |")
    print("|---|---|---|---|")
    for row in rows:
        square = BATCH * HEADS * row["length"] ** 2 * 4
        print(f"| {row['length']} | {row['peak'] / 2**20:.1f} | {square / 2**20:.1f} | {row['peak'] / square:.2f} |")
    if len(rows) > 1:
        print("\nfrom one length to the next, the peak grew by (T grew by):")
        for a, b in zip(rows, rows[1:]):
            print(f"  {a['length']} -> {b['length']}: x{b['peak'] / a['peak']:.2f} (x{b['length'] / a['length']:g})")
    if len(rows) > 2:  # least squares: peak = a + b T + c (one (batch, heads, T, T) array)
        import numpy as np

        t = np.array([row["length"] for row in rows], dtype=float)
        square = BATCH * HEADS * t**2 * 4
        (a, b, c), *_ = np.linalg.lstsq(np.stack([np.ones_like(t), t, square], 1), [r["peak"] for r in rows])
        linear = f"{a / 2**20:.1f} MiB + {b * 64 / 2**20:.1f} MiB per 64 tokens"
        print(f"\npeak = {linear} + {c:.2f} (batch, heads, T, T) arrays")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main([int(v) for v in sys.argv[1:]] or [64, 128, 256])
