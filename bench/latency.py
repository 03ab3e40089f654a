"""Latency of one prediction (issue 26, item 4): ``model.predict`` on one sample, neuronet against PyTorch eager.

    python bench/latency.py                      # the digits MLP and CNN, 2,000 calls of each kind, 3 rounds
    python bench/latency.py --calls 5000 --rounds 5

The models are the demos' (``nn.demos.digits_mlp``: 64 -> 64 ReLU -> 10 softmax; ``nn.demos.digits_cnn``:
two 3x3 convolutions with pooling on 8x8 images, then 128 -> 64 -> 10), and the same layers in PyTorch.
PyTorch's call is what a server written for it does: ``torch.from_numpy``, the model in eval mode under
``torch.inference_mode()``, the output back as NumPy; neuronet's is ``model.predict`` on the NumPy array.
The input is one sample, a (1, ...) float32 array.

A round is one fresh process per model, in which the calls alternate: neuronet's predict, PyTorch's, and the
parts of neuronet's call that show its fixed cost: ``forward`` (the layers alone, ``model.forward`` on an
array already checked) and ``check_x`` (the input's checks: numbers, finite, the model's float type). A
machine's speed drifts from second to second; calls that alternate meet the same drift, where processes that
take turns would not, and the order is drawn afresh every time, so that each kind of call follows each other
kind as often (a call right after PyTorch's finds less of its own in the caches). After 200 warm-up calls of each,
``--calls`` timed calls of each; the medians in microseconds. The table gives the median of the rounds'
medians with their lowest and highest, the ratio of the two sides' times (below 1: neuronet answers sooner),
and neuronet's fixed cost ``predict - forward`` (the checks, the batching, the output's copy and its check for
NaN).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

MODELS = {"mlp": (64,), "cnn": (8, 8, 1)}  # each demo's input shape


def medians_us(calls: dict, x_of: dict, count: int) -> dict:
    """The median time of each of ``calls`` (name -> function of its input ``x_of[name]``) in microseconds,
    the calls alternating, ``count`` of each after 200 warm-up ones."""
    for _ in range(200):
        for name, call in calls.items():
            call(x_of[name])
    times = {name: [] for name in calls}
    orders = np.random.default_rng(0).permuted(np.tile(np.arange(len(calls)), (count, 1)), axis=1)
    names = list(calls)
    for order in orders:  # a random order each time: each kind of call follows each other kind as often
        for name in (names[k] for k in order):
            call, x = calls[name], x_of[name]
            start = time.perf_counter()
            call(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e6 for name, t in times.items()}


def neuronet_model(name: str):
    import neuronet as nn

    nn.set_seed(0)
    model = nn.demos.digits_mlp() if name == "mlp" else nn.demos.digits_cnn()
    model.compile()
    return model


def torch_predict(name: str):
    """PyTorch's model for ``name`` and a function of a NumPy batch (channels-last for images) to its outputs."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    T = torch.nn
    if name == "mlp":
        model = T.Sequential(T.Linear(64, 64), T.ReLU(), T.Linear(64, 10), T.Softmax(-1))
    else:
        model = T.Sequential(
            T.Conv2d(1, 16, 3, padding=1), T.ReLU(), T.MaxPool2d(2),
            T.Conv2d(16, 32, 3, padding=1), T.ReLU(), T.MaxPool2d(2), T.Flatten(),
            T.Linear(128, 64), T.ReLU(), T.Dropout(0.2), T.Linear(64, 10), T.Softmax(-1),
        )  # fmt: skip
    model.eval()

    def predict(v):
        with torch.inference_mode():
            return model(torch.from_numpy(v)).numpy()

    return predict


def worker(name: str, count: int) -> dict:
    model = neuronet_model(name)
    x = np.random.default_rng(0).random((1, *MODELS[name]), dtype=np.float32)
    channels_first = np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x  # (made once)
    calls = {
        "predict": model.predict,
        "torch": torch_predict(name),
        "forward": lambda v: model.forward(v, training=False),
        "check_x": model.check_x,
    }
    return medians_us(calls, {"predict": x, "torch": channels_first, "forward": model.check_x(x), "check_x": x}, count)


def cell(runs: list, part: str) -> str:
    """The median over the rounds of one part's median, with the lowest and highest."""
    values = [run[part] for run in runs]
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000, help="timed calls of each kind per round (default 2000)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per model (default 3)")
    ap.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.calls)))
        return
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {args.calls} calls of each kind a round, {args.rounds} rounds (µs)\n")
    print("| model | neuronet predict | PyTorch predict | neuronet ÷ PyTorch time | neuronet forward | "
          "neuronet check_x | neuronet predict - forward |")  # fmt: skip
    print("|---" * 7 + "|")
    for name in MODELS:
        cmd = [sys.executable, __file__, "--worker", name, "--calls", str(args.calls)]
        runs = [json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                for _ in range(args.rounds)]  # fmt: skip
        ratio = statistics.median(run["predict"] / run["torch"] for run in runs)
        fixed = statistics.median(run["predict"] - run["forward"] for run in runs)
        cells = [cell(runs, part) for part in ("predict", "torch")] + [f"{ratio:.2f}"]
        cells += [cell(runs, part) for part in ("forward", "check_x")] + [f"{fixed:.1f}"]
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
