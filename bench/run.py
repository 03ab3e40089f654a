"""Speed of neuronet against PyTorch CPU on the workloads of shared/BENCHMARKS.md.

    python bench/run.py                    # every workload
    python bench/run.py mlp --rounds 3     # one workload, more rounds
    python bench/run.py cnn --baseline ../old/src   # and another neuronet's code, alternating with both
    python bench/run.py cnn mlp --graph    # and each chain built as nn.Model from nn.Input, against Sequential
    python bench/run.py mlp cnn --peer both            # against PyTorch and JAX (jitted steps)
    python bench/run.py mlp --peer jax --cores 1       # every side pinned to core 0, one thread each

Each side runs in its own process (so each one's peak memory is its own),
alternating neuronet / PyTorch / neuronet / PyTorch so that machine drift hits
both. Each process does one warm-up epoch, then ``--epochs`` timed epochs.
The table gives median samples/s with the min-max spread over all timed
epochs, the ratio neuronet / PyTorch, and how close each side gets to the
GEMM floor (the step's matrix-product FLOPs over this machine's float32
GEMM rate). ``resnet`` is a graph model (residual blocks).

``--peer`` says what neuronet is measured against: PyTorch (the default),
JAX (``jax_peer.py``: plain jax.numpy models, the whole training step under
one ``jax.jit`` with optax Adam; needs the ``bench`` extra), or both. Every
side alternates in processes of its own (XLA's thread pool spins and would
slow a process it shares).

``--cores N`` runs every worker under ``taskset -c 0..N-1`` and tells each
side to use N threads: OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
MKL_NUM_THREADS (NumPy's BLAS, and so neuronet and ``torch.set_num_threads``,
which follows the BLAS threads), ``nn.set_threads(N)`` (neuronet's split
batches), and for N = 1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1" (XLA's Eigen pool otherwise sizes itself by
the cores the process may run on, which taskset has set). Without
``--cores`` nothing is pinned and each side uses what it finds, as before.

``--graph`` adds a third process to the alternation for each chain workload,
which trains the chain two ways, as ``Sequential`` and as ``nn.Model`` from
``nn.Input``, an epoch of each in turn: the ratio of each pair of epochs
holds where the machine's drift from one process to the next would swamp a
difference of a few percent.
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

# name: (data shape per sample, classes, samples, batch, training?, forward GEMM FLOPs per sample)
WORKLOADS = {
    "mlp": ((784,), 10, 60000, 128, True, 2 * (784 * 128 + 128 * 10)),
    "mlp_big": ((784,), 10, 60000, 128, True, 2 * (784 * 512 + 512 * 512 + 512 * 10)),
    "infer": ((784,), 10, 60000, 1024, False, 2 * (784 * 512 + 512 * 512 + 512 * 10)),
    "cnn": ((28, 28, 1), 10, 10000, 128, True, 2 * (28 * 28 * 9 * 8 + 14 * 14 * 72 * 16 + 784 * 10)),
    "textcnn": ((100,), 2, 10000, 128, True, 2 * (96 * 5 * 64 * 128 + 128 * 2)),
    "lstm": ((50, 32), 10, 5000, 128, True, 2 * (50 * (32 + 128) * 4 * 128 + 128 * 10)),
    "gru": ((50, 32), 10, 5000, 128, True, 2 * (50 * (32 + 128) * 3 * 128 + 128 * 10)),
    # the digits GAN of `neuronet demo gan` (generator 32-128-256-64, discriminator 64-256-128-1, batch 64 real
    # samples). Per real sample a step runs 4 generator and 9 discriminator forwards' worth of products (D on
    # the real and fake batch, forward and backward; G once for D's batch, then G and D forward and backward);
    # the entry is that over 3, as the floor below counts a training step as 3 forwards
    "gan": (
        (64,),
        0,
        10000,
        64,
        True,
        (4 * 2 * (32 * 128 + 128 * 256 + 256 * 64) + 9 * 2 * (64 * 256 + 256 * 128 + 128)) / 3,
    ),
    # Conv2D(1->16) and ReLU, two residual blocks [Conv2D(16->16), BatchNorm, ReLU, Conv2D(16->16), BatchNorm, Add,
    # ReLU], GlobalAvgPool2D, Dense 16->10; all convolutions 3x3 "same"
    "resnet": ((28, 28, 1), 10, 10000, 128, True, 2 * (28 * 28 * 9 * 16 + 4 * 28 * 28 * 144 * 16 + 16 * 10)),
    # per block and sample: the q, k, v and output projections (64 steps of 64 x 64 each), the scores and the
    # weighted values (64 x 64 x 64 in all heads), the feed-forward layers (64 x 128 and back)
    "transformer": ((64,), 2, 5000, 64, True, 2 * (2 * 64 * (4 * 64 * 64 + 2 * 64 * 64 + 2 * 64 * 128) + 64 * 2)),
}
# the same models with each activation a layer of its own (Conv2D, ReLU, MaxPool2D), as PyTorch users write them
WORKLOADS |= {f"{name}_layers": WORKLOADS[name] for name in ("cnn", "textcnn")}
VOCAB = 10000
TOKENS = 1000  # the transformer's vocabulary
GRAPHS = ("gan", "resnet", "transformer")  # not chains: no Sequential to compare a graph with (--graph)
IMAGES = ("cnn", "cnn_layers", "resnet")  # channels-first for PyTorch


PEERS = {"torch": "PyTorch", "jax": "JAX"}


def pinned_env(cores: int) -> dict:
    """The environment of a worker run on ``cores`` cores: every thread pool told that many threads."""
    env = dict(os.environ, BENCH_CORES=str(cores))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(cores)
    if cores == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info

        return max(int(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas")
    except Exception:
        return os.cpu_count() or 1


def data(name):
    shape, classes, n, _, _, _ = WORKLOADS[name]
    rng = np.random.default_rng(0)
    if name.startswith("textcnn") or name == "transformer":
        X = rng.integers(0, VOCAB if name.startswith("textcnn") else TOKENS, (n, *shape))
    else:
        X = rng.standard_normal((n, *shape), dtype=np.float32)
    return X, rng.integers(0, classes, n) if classes else None  # (a GAN learns from samples alone)


def neuronet_model(name, graph=False):
    """The workload's neuronet model: a Sequential of its layers or, with ``graph``, the same chain built as
    ``nn.Model`` from ``nn.Input``; resnet and gan are graphs of their own."""
    import neuronet as nn

    if name == "gan":
        return nn.demos.digits_gan()
    if name == "resnet":
        L = nn.layers
        x = nn.Input(shape=WORKLOADS[name][0])
        h = L.Conv2D(1, 16, 3, padding="same", activation="relu")(x)
        for _ in range(2):
            h = nn.demos.conv_block(h, 16)
        return nn.Model(x, L.Dense(16, 10, activation="softmax")(L.GlobalAvgPool2D()(h)))
    if name == "transformer":
        L = nn.layers
        ids = nn.Input(shape=WORKLOADS[name][0], dtype="int64")
        h = L.PositionalEmbedding(64, 64)(L.Embedding(TOKENS, 64)(ids))
        for _ in range(2):
            h = L.TransformerEncoder(64, 4, 128, dropout=0.0)(h)
        return nn.Model(ids, L.Dense(64, 2, activation="softmax")(L.GlobalAvgPool1D()(h)))
    layers = neuronet_layers(name)
    if not graph:
        return nn.Sequential(layers)
    node = x = nn.Input(shape=WORKLOADS[name][0], dtype="int64" if name.startswith("textcnn") else None)
    for layer in layers:
        node = layer(node)
    return nn.Model(x, node)


def neuronet_layers(name):
    import neuronet as nn

    L = nn.layers
    if name in ("mlp", "mlp_big", "infer"):
        sizes = [784, 128, 10] if name == "mlp" else [784, 512, 512, 10]
        layers = [L.Dense(a, b, activation="relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
        return [*layers, L.Dense(sizes[-2], sizes[-1], activation="softmax")]
    separate = name.endswith("_layers")
    act = None if separate else "relu"  # Conv2D(..., activation="relu"), or Conv2D(...) then ReLU()

    def relu():
        return [L.ReLU()] if separate else []

    if name in ("lstm", "gru"):
        cell = L.LSTM if name == "lstm" else L.GRU
        return [cell(32, 128), L.Dense(128, 10, activation="softmax")]
    if name.startswith("cnn"):
        return [
            L.Conv2D(1, 8, 3, padding="same", activation=act),
            *relu(),
            L.MaxPool2D(2),
            L.Conv2D(8, 16, 3, padding="same", activation=act),
            *relu(),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(784, 10, activation="softmax"),
        ]
    return [
        L.Embedding(VOCAB, 64),
        L.Conv1D(64, 128, 5, activation=act),
        *relu(),
        L.GlobalMaxPool1D(),
        L.Dense(128, 2, activation="softmax"),
    ]


def torch_model(name):
    import torch

    T = torch.nn
    if name in ("mlp", "mlp_big", "infer"):
        sizes = [784, 128, 10] if name == "mlp" else [784, 512, 512, 10]
        mods = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [T.Linear(a, b), T.ReLU()]
        return T.Sequential(*mods[:-1])
    if name in ("lstm", "gru"):

        class Recurrent(T.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (T.LSTM if name == "lstm" else T.GRU)(32, 128, batch_first=True)
                self.out = T.Linear(128, 10)

            def forward(self, x):
                h_n = self.rnn(x)[1]
                return self.out((h_n[0] if name == "lstm" else h_n)[0])  # the last state

        return Recurrent()
    if name == "resnet":

        class ResNet(T.Module):
            def __init__(self):
                super().__init__()
                self.stem, self.out = T.Conv2d(1, 16, 3, padding=1), T.Linear(16, 10)

                def norm():  # neuronet's BatchNormalization: Keras's momentum 0.99 is PyTorch's 0.01
                    return T.BatchNorm2d(16, eps=1e-3, momentum=0.01)

                self.blocks = T.ModuleList(
                    T.Sequential(
                        T.Conv2d(16, 16, 3, padding=1), norm(), T.ReLU(), T.Conv2d(16, 16, 3, padding=1), norm()
                    )
                    for _ in range(2)
                )

            def forward(self, x):
                h = torch.relu(self.stem(x))
                for block in self.blocks:
                    h = torch.relu(h + block(h))
                return self.out(h.mean(dim=(2, 3)))

        return ResNet()
    if name == "transformer":

        class Transformer(T.Module):
            def __init__(self):
                super().__init__()
                self.embed, self.out = T.Embedding(TOKENS, 64), T.Linear(64, 2)
                self.positions = T.Parameter(torch.randn(64, 64) * 0.1)  # learned, as PositionalEmbedding
                self.blocks = T.ModuleList(
                    T.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True) for _ in range(2)
                )

            def forward(self, ids):
                h = self.embed(ids) + self.positions
                for block in self.blocks:
                    h = block(h)
                return self.out(h.mean(dim=1))

        return Transformer()
    if name.startswith("cnn"):  # channels-first, as PyTorch expects; the data is transposed once, outside timing
        return T.Sequential(
            T.Conv2d(1, 8, 3, padding=1), T.ReLU(), T.MaxPool2d(2),
            T.Conv2d(8, 16, 3, padding=1), T.ReLU(), T.MaxPool2d(2),
            T.Flatten(), T.Linear(784, 10),
        )  # fmt: skip

    class TextCNN(T.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.conv, self.out = T.Embedding(VOCAB, 64), T.Conv1d(64, 128, 5), T.Linear(128, 2)

        def forward(self, ids):
            h = torch.relu(self.conv(self.embed(ids).transpose(1, 2)))
            return self.out(h.max(dim=2).values)

    return TextCNN()


def run_neuronet(name, epochs):
    import neuronet as nn

    _, _, n, batch, train, _ = WORKLOADS[name]
    nn.set_seed(0)
    X, y = data(name)
    model = neuronet_model(name)
    if name == "gan":
        model.compile(nn.optimizers.Adam(1e-3, beta_1=0.5), nn.optimizers.Adam(1e-3, beta_1=0.5))
    else:
        model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
    times = []
    if train:

        class Timer(nn.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        fit = model.fit if y is not None else lambda X, y, **kwargs: model.fit(X, **kwargs)
        fit(X, y, epochs=epochs + 1, batch_size=batch, verbose=0, callbacks=[Timer()])
    else:
        for _ in range(epochs + 1):
            t = time.perf_counter()
            model.predict(X, batch_size=batch)
            times.append(time.perf_counter() - t)
    return times[1:]


def run_chain(name, epochs):
    """Seconds per timed epoch of the workload's chain as Sequential and as nn.Model from nn.Input, both in this
    process: after a warm-up epoch each, an epoch of one then of the other, which goes first alternating."""
    import neuronet as nn

    _, _, _, batch, train, _ = WORKLOADS[name]
    X, y = data(name)
    models = []
    for graph in (False, True):
        nn.set_seed(0)
        model = neuronet_model(name, graph)
        model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(1e-3))
        models.append(model)
    times = ([], [])
    for epoch in range(epochs + 1):
        for k in (0, 1) if epoch % 2 == 0 else (1, 0):
            t = time.perf_counter()
            if train:
                models[k].fit(X, y, epochs=1, batch_size=batch, verbose=0)
            else:
                models[k].predict(X, batch_size=batch)
            times[k].append(time.perf_counter() - t)
    return times[0][1:], times[1][1:]


def torch_gan_epoch(G, D, opt_g, opt_d, X, batch):
    """One epoch of the digits GAN as a PyTorch user writes it (the steps of neuronet's GAN.train_step)."""
    import torch

    bce, n = torch.nn.BCELoss(), len(X)
    for idx in torch.randperm(n).split(batch):
        real = X[idx]
        m = len(real)
        with torch.no_grad():
            fake = G(torch.randn(m, 32))
        targets = torch.cat([torch.full((m, 1), 0.9), torch.zeros(m, 1)])
        opt_d.zero_grad()
        bce(D(torch.cat([real, fake])), targets).backward()
        opt_d.step()
        opt_g.zero_grad()
        bce(D(G(torch.randn(m, 32))), torch.ones(m, 1)).backward()
        opt_g.step()


def run_torch(name, epochs):
    import torch

    _, _, n, batch, train, _ = WORKLOADS[name]
    torch.set_num_threads(blas_threads())
    torch.manual_seed(0)
    if name == "gan":
        return run_torch_gan(epochs)
    return torch_times(name, batch, epochs)


def torch_times(name, batch, epochs, device=None, resident=False):
    """Seconds per timed epoch of the workload's PyTorch model (after one warm-up); with ``device`` (CUDA),
    the model lives there and each batch is copied over from the host, and each epoch ends synchronised;
    ``resident``: the data is moved to the device once, and each batch gathered there."""
    import torch

    _, _, n, _, train, _ = WORKLOADS[name]
    model = torch_model(name).to(device)
    X, y = data(name)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    if name in IMAGES:  # channels-first, as PyTorch expects; the data is transposed once, outside timing
        X = X.permute(0, 3, 1, 2).contiguous()
    if resident:
        X, y = X.to(device), y.to(device)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        if train:
            perm = torch.randperm(n, device=X.device)
            total = 0.0
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                loss = loss_fn(model(X[idx].to(device)), y[idx].to(device))
                loss.backward()
                opt.step()
                total += loss.item()  # both sides read each batch's loss
        else:
            with torch.no_grad():
                for i in range(0, n, batch):
                    model(X[i : i + batch].to(device)).cpu()
        if device is not None:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return times[1:]


def run_torch_gan(epochs):
    import torch

    T = torch.nn
    _, _, _, batch, _, _ = WORKLOADS["gan"]
    G = T.Sequential(T.Linear(32, 128), T.LeakyReLU(), T.Linear(128, 256), T.LeakyReLU(), T.Linear(256, 64), T.Tanh())
    D = T.Sequential(
        T.Linear(64, 256), T.LeakyReLU(), T.Dropout(0.3),
        T.Linear(256, 128), T.LeakyReLU(), T.Linear(128, 1), T.Sigmoid(),
    )  # fmt: skip
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    X = torch.from_numpy(data("gan")[0])
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        torch_gan_epoch(G, D, opt_g, opt_d, X, batch)
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
    if side.startswith("baseline="):  # another neuronet's code, from its src folder
        sys.path.insert(0, side.split("=", 1)[1])
        for module in [m for m in sys.modules if m.split(".")[0] == "neuronet"]:
            del sys.modules[module]
    if side not in PEERS and "BENCH_CORES" in os.environ:  # --cores: neuronet's split batches on that many threads
        import neuronet as nn

        nn.set_threads(int(os.environ["BENCH_CORES"]))
    if side == "graph":  # the chain both ways: the graph's times, and Sequential's epoch by epoch beside them
        sequential, times = run_chain(name, epochs)
    elif side == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        from jax_peer import jax_times

        sequential, times = None, jax_times(name, epochs)
    else:
        sequential, times = None, (run_torch if side == "torch" else run_neuronet)(name, epochs)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "sequential": sequential, "peak_mib": peak_mib}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per process (after one warm-up)")
    ap.add_argument("--rounds", type=int, default=2, help="neuronet/peer process rounds per workload")
    ap.add_argument("--peer", choices=("torch", "jax", "both"), default="torch", help="what neuronet is timed against")
    ap.add_argument("--cores", type=int, help="pin every worker to cores 0..N-1 (taskset), N threads each")
    ap.add_argument("--baseline", help="the src folder of another neuronet, timed in the same alternation")
    ap.add_argument(
        "--graph", action="store_true", help="also time each chain as nn.Model from nn.Input against Sequential"
    )
    ap.add_argument("--worker", nargs=2, metavar=("SIDE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker, args.epochs)

    env, pin = None, []
    if args.cores:
        from threadpoolctl import threadpool_limits

        cpus = ",".join(map(str, range(args.cores)))
        env, pin = pinned_env(args.cores), ["taskset", "-c", cpus]
        os.sched_setaffinity(0, range(args.cores))  # the GEMM rate below on the workers' cores and threads
        threadpool_limits(args.cores, user_api="blas")
        print(f"every worker under taskset -c {cpus}, {args.cores} thread(s) each")
    rate = gemm_rate()
    print(f"float32 GEMM rate: {rate / 1e9:.0f} GFLOP/s; BLAS threads: {blas_threads()}")
    peers = list(PEERS) if args.peer == "both" else [args.peer]
    letters = " / ".join(["n", *(p[0] for p in peers)])
    baseline = f"baseline={os.path.abspath(args.baseline)}" if args.baseline else None
    columns = " | graph samples/s | graph / Sequential, paired epochs (min-max)" if args.graph else ""
    columns += " | baseline samples/s | baseline ratio" if args.baseline else ""
    speeds = " | ".join(f"{PEERS[p]} samples/s" for p in peers)
    ratios = " | ".join(f"ratio to {PEERS[p]} (min-max)" for p in peers) if len(peers) > 1 else "ratio (min-max)"
    print(
        f"| workload | neuronet samples/s | {speeds} | {ratios} "
        f"| GEMM floor reached {letters} | peak MiB {letters}{columns} |"
    )
    print("|---" * (4 + 2 * len(peers) + 2 * bool(args.graph) + 2 * bool(args.baseline)) + "|")
    for name in args.workloads:
        _, _, n, _, train, forward_flops = WORKLOADS[name]
        graph = args.graph and name not in GRAPHS
        sides = ["neuronet", *(["graph"] if graph else []), *peers, *([baseline] if baseline else [])]
        results = {side: [] for side in sides}
        pairs = []  # Sequential's seconds over the graph's, epoch by epoch in one process (--graph)
        peaks = dict.fromkeys(sides, 0.0)
        for _ in range(args.rounds):
            for side in sides:
                cmd = [*pin, sys.executable, __file__, "--worker", side, name, "--epochs", str(args.epochs)]
                out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)
                results[side] += [n / t for t in out["times"]]
                if out["sequential"]:
                    pairs += [s / t for s, t in zip(out["sequential"], out["times"])]
                peaks[side] = max(peaks[side], out["peak_mib"])
        med = {s: statistics.median(v) for s, v in results.items()}
        floor = rate / (forward_flops * (3 if train else 1))  # samples/s if every FLOP ran at the GEMM rate
        extra = ""
        if args.graph:
            spread = f"**{statistics.median(pairs):.2f}x** ({min(pairs):.2f}-{max(pairs):.2f})" if graph else ""
            extra += f" | {med['graph']:,.0f} | {spread}" if graph else " | - | -"
        if baseline:
            extra += f" | {med[baseline]:,.0f} | {med[baseline] / med[peers[0]]:.2f}x"
        mine = ["neuronet", *peers]
        print(
            f"| {name} | {' | '.join(f'{med[s]:,.0f}' for s in mine)} | "
            f"{' | '.join(ratio(results, 'neuronet', p) for p in peers)} | "
            f"{' / '.join(f'{med[s] / floor:.0%}' for s in mine)} | "
            f"{' / '.join(f'{peaks[s]:.0f}' for s in mine)}{extra} |",
            flush=True,
        )


def ratio(results: dict, a: str, b: str) -> str:
    """Median samples/s of side ``a`` over side ``b``, and the worst and best pairing of single epochs."""
    median = statistics.median(results[a]) / statistics.median(results[b])
    lo, hi = min(results[a]) / max(results[b]), max(results[a]) / min(results[b])
    return f"**{median:.2f}x** ({lo:.2f}-{hi:.2f})"


if __name__ == "__main__":
    main()
