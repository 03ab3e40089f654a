"""The JAX side of bench/run.py (``--peer jax``): each workload of shared/BENCHMARKS.md in plain JAX, the whole
training step (forward, loss, gradient, optax Adam update) under one ``jax.jit``, the parameters, model state
and optimizer state donated to it.

The models are written with jax.numpy and jax.lax as a JAX user writes them without a layer library:
convolutions are ``lax.conv_general_dilated`` in channels-last layouts (as neuronet's), max pooling
``lax.reduce_window``, an embedding a gather, an LSTM or GRU a ``lax.scan`` over time-major steps (the input's
part of every gate one product before the scan), BatchNormalization with the batch's statistics and running
averages kept in the state (Keras's momentum 0.99, epsilon 1e-3, as neuronet's), attention as einsums with a
softmax. Each model's parameter count is asserted equal to neuronet's (``PARAMS``, from
``neuronet_model(name).parameters()``).

Each epoch draws a NumPy permutation, as the other sides, and feeds each batch as ``jnp.asarray(X[idx])``; the
loss of every batch is read back (``float``), as the PyTorch side does. The last batch of an epoch is smaller
(60000 = 468 x 128 + 96): neuronet trains it, so this side trains it too, and its shape compiles in the warm-up
epoch with the full one; the worker asserts that no timed epoch compiled anything.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from run import TOKENS, VOCAB, WORKLOADS, data

# neuronet's parameter count of each workload (sum of the sizes of neuronet_model(name).parameters())
PARAMS = {
    "mlp": 101770,
    "mlp_big": 669706,
    "infer": 669706,
    "cnn": 9098,
    "textcnn": 681346,
    "lstm": 83722,
    "gru": 63498,
    "resnet": 9738,
    "transformer": 135170,
    "gan": 103361,
}
CHANNELS_LAST = ("NHWC", "HWIO", "NHWC")


class Init:
    """Draws the parameters: Glorot-uniform weights, zero biases (their values do not change the speed)."""

    def __init__(self, seed: int = 0):
        self.key = jax.random.PRNGKey(seed)

    def weight(self, *shape, fan_in=None, fan_out=None):
        self.key, key = jax.random.split(self.key)
        fan_in = fan_in or int(np.prod(shape[:-1]))
        fan_out = fan_out or shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, jnp.float32, -limit, limit)

    def dense(self, a, b):
        return {"w": self.weight(a, b), "b": jnp.zeros(b, jnp.float32)}


def dense(p, x):
    return x @ p["w"] + p["b"]


def conv(p, x, padding):
    dims = ("NHWC", "HWIO", "NHWC") if x.ndim == 4 else ("NWC", "WIO", "NWC")
    return lax.conv_general_dilated(x, p["w"], (1,) * (x.ndim - 2), padding, dimension_numbers=dims) + p["b"]


def max_pool(x, size):
    window = (1, size, size, 1)
    return lax.reduce_window(x, -jnp.inf, lax.max, window, window, "VALID")


def mlp(init, sizes):
    params = [init.dense(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(params, state, x, train):
        for p in params[:-1]:
            x = jax.nn.relu(dense(p, x))
        return dense(params[-1], x), state

    return params, {}, forward


def cnn(init):
    params = {
        "c1": {"w": init.weight(3, 3, 1, 8), "b": jnp.zeros(8)},
        "c2": {"w": init.weight(3, 3, 8, 16), "b": jnp.zeros(16)},
        "out": init.dense(784, 10),
    }

    def forward(p, state, x, train):
        h = max_pool(jax.nn.relu(conv(p["c1"], x, "SAME")), 2)
        h = max_pool(jax.nn.relu(conv(p["c2"], h, "SAME")), 2)
        return dense(p["out"], h.reshape(len(h), -1)), state

    return params, {}, forward


def textcnn(init):
    params = {
        "embed": init.weight(VOCAB, 64),
        "conv": {"w": init.weight(5, 64, 128), "b": jnp.zeros(128)},
        "out": init.dense(128, 2),
    }

    def forward(p, state, ids, train):
        h = jax.nn.relu(conv(p["conv"], p["embed"][ids], "VALID"))  # (batch, 96, 128)
        return dense(p["out"], h.max(axis=1)), state

    return params, {}, forward


def recurrent(init, kind):
    """LSTM (gates i, f, g, o; one bias) or GRU (r, z, n; PyTorch's and Keras's reset_after form, an input and a
    recurrent bias) of 32 to 128 over the steps, its last state, then Dense 128 to 10."""
    gates = 4 if kind == "lstm" else 3
    h = 128
    params = {
        "w": init.weight(32, gates * h),
        "u": init.weight(h, gates * h),
        "b": jnp.zeros(gates * h),
        "out": init.dense(h, 10),
    }
    if kind == "gru":
        params["b_rec"] = jnp.zeros(gates * h)

    def forward(p, state, x, train):
        xw = jnp.einsum("btf,fk->tbk", x, p["w"]) + p["b"]  # every step's input part at once, time-major
        zeros = jnp.zeros((x.shape[0], h), x.dtype)
        if kind == "lstm":

            def step(carry, xw_t):
                h_prev, c_prev = carry
                i, f, g, o = jnp.split(xw_t + h_prev @ p["u"], 4, axis=-1)
                c = jax.nn.sigmoid(f) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
                return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

            (last, _), _ = lax.scan(step, (zeros, zeros), xw)
        else:

            def step(h_prev, xw_t):
                xr, xz, xn = jnp.split(xw_t, 3, axis=-1)
                hr, hz, hn = jnp.split(h_prev @ p["u"] + p["b_rec"], 3, axis=-1)
                r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
                n = jnp.tanh(xn + r * hn)
                return (1 - z) * n + z * h_prev, None

            last, _ = lax.scan(step, zeros, xw)
        return dense(p["out"], last), state

    return params, {}, forward


def batch_norm(p, running, x, train, momentum=0.99, epsilon=1e-3):
    """Over every axis but the channels': the batch's statistics while training (the running ones updated),
    the running ones otherwise."""
    if train:
        mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
        running = {
            "mean": momentum * running["mean"] + (1 - momentum) * mean,
            "var": momentum * running["var"] + (1 - momentum) * var,
        }
    else:
        mean, var = running["mean"], running["var"]
    return (x - mean) * lax.rsqrt(var + epsilon) * p["gamma"] + p["beta"], running


def resnet(init):
    def conv16(a):
        return {"w": init.weight(3, 3, a, 16), "b": jnp.zeros(16)}

    def norm():
        return {"gamma": jnp.ones(16), "beta": jnp.zeros(16)}

    params = {
        "stem": conv16(1),
        "blocks": [{"c1": conv16(16), "n1": norm(), "c2": conv16(16), "n2": norm()} for _ in range(2)],
        "out": init.dense(16, 10),
    }
    state = [{n: {"mean": jnp.zeros(16), "var": jnp.ones(16)} for n in ("n1", "n2")} for _ in range(2)]

    def forward(p, state, x, train):
        h = jax.nn.relu(conv(p["stem"], x, "SAME"))
        new_state = []
        for block, running in zip(p["blocks"], state):
            f, r1 = batch_norm(block["n1"], running["n1"], conv(block["c1"], h, "SAME"), train)
            f, r2 = batch_norm(block["n2"], running["n2"], conv(block["c2"], jax.nn.relu(f), "SAME"), train)
            h = jax.nn.relu(h + f)
            new_state.append({"n1": r1, "n2": r2})
        return dense(p["out"], h.mean(axis=(1, 2))), new_state

    return params, state, forward


def layer_norm(p, x, epsilon=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) * lax.rsqrt(var + epsilon) * p["gamma"] + p["beta"]


def transformer(init, heads=4):
    """Embedding(1000, 64) plus learned positions, 2 post-norm encoder blocks (as torch.nn.TransformerEncoderLayer
    and neuronet's TransformerEncoder: 4 heads, feed-forward 128 with ReLU, no dropout), mean over the steps,
    Dense 64 to 2."""

    def norm():
        return {"gamma": jnp.ones(64), "beta": jnp.zeros(64)}

    def block():
        return {
            **{k: init.dense(64, 64) for k in ("q", "k", "v", "o")},
            "ff1": init.dense(64, 128),
            "ff2": init.dense(128, 64),
            "norm1": norm(),
            "norm2": norm(),
        }

    params = {
        "embed": init.weight(TOKENS, 64),
        "positions": init.weight(64, 64),
        "blocks": [block() for _ in range(2)],
        "out": init.dense(64, 2),
    }

    def attention(p, x):
        b, t, e = x.shape

        def split(k):  # (batch, time, E) -> (batch, heads, time, E / heads)
            return dense(p[k], x).reshape(b, t, heads, e // heads).transpose(0, 2, 1, 3)

        q, k, v = split("q"), split("k"), split("v")
        weights = jax.nn.softmax(jnp.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(e // heads), axis=-1)
        out = jnp.einsum("bhqk,bhkd->bqhd", weights, v).reshape(b, t, e)
        return dense(p["o"], out)

    def forward(p, state, ids, train):
        h = p["embed"][ids] + p["positions"]
        for blk in p["blocks"]:
            h = layer_norm(blk["norm1"], h + attention(blk, h))
            h = layer_norm(blk["norm2"], h + dense(blk["ff2"], jax.nn.relu(dense(blk["ff1"], h))))
        return dense(p["out"], h.mean(axis=1)), state

    return params, {}, forward


def model(name):
    """(parameters, state, forward(params, state, x, train) -> (logits, state)) of the workload."""
    init = Init(0)
    if name in ("mlp", "mlp_big", "infer"):
        built = mlp(init, [784, 128, 10] if name == "mlp" else [784, 512, 512, 10])
    elif name == "cnn":
        built = cnn(init)
    elif name == "textcnn":
        built = textcnn(init)
    elif name in ("lstm", "gru"):
        built = recurrent(init, name)
    elif name == "resnet":
        built = resnet(init)
    elif name == "transformer":
        built = transformer(init)
    else:
        raise SystemExit(f"no JAX side for workload {name!r}")
    count = sum(a.size for a in jax.tree_util.tree_leaves(built[0]))
    assert count == PARAMS[name], f"{name}: the JAX model has {count} parameters, neuronet's {PARAMS[name]}"
    return built


def train_step(forward, opt):
    """The whole step, one compiled function: forward, mean softmax cross-entropy, gradient, Adam update."""

    def loss_fn(params, state, x, y):
        logits, state = forward(params, state, x, True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), state

    def step(params, state, opt_state, x, y):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1, 2))


def gan_step(opt_g, opt_d, batch_latent=32):
    """One step of the digits GAN as neuronet's GAN.train_step: the discriminator on the real batch and as many
    fakes (targets 0.9 and 0, label smoothing 0.1), then the generator through it (targets 1); leaky ReLU slope
    0.01 (neuronet's and PyTorch's default), dropout 0.3 after the discriminator's first layer; binary
    cross-entropy from the discriminator's logit (its sigmoid folded into the loss)."""

    def generator(p, z):
        h = jax.nn.leaky_relu(dense(p[0], z), 0.01)
        h = jax.nn.leaky_relu(dense(p[1], h), 0.01)
        return jnp.tanh(dense(p[2], h))

    def discriminator(p, x, key):
        h = jax.nn.leaky_relu(dense(p[0], x), 0.01)
        keep = jax.random.bernoulli(key, 0.7, h.shape)
        h = jax.nn.leaky_relu(dense(p[1], jnp.where(keep, h / 0.7, 0.0)), 0.01)
        return dense(p[2], h)[:, 0]  # the logit: the loss below takes the sigmoid and the log together

    def bce(logits, target):
        return optax.sigmoid_binary_cross_entropy(logits, target).mean()

    def step(g, d, g_state, d_state, real, key):
        m = real.shape[0]
        k_z1, k_z2, k_d1, k_d2, key = jax.random.split(key, 5)
        fake = generator(g, jax.random.normal(k_z1, (m, batch_latent)))
        both = jnp.concatenate([real, lax.stop_gradient(fake)])
        targets = jnp.concatenate([jnp.full(m, 0.9), jnp.zeros(m)])
        d_loss, grads = jax.value_and_grad(lambda d: bce(discriminator(d, both, k_d1), targets))(d)
        updates, d_state = opt_d.update(grads, d_state, d)
        d = optax.apply_updates(d, updates)
        z = jax.random.normal(k_z2, (m, batch_latent))
        g_loss, grads = jax.value_and_grad(lambda g: bce(discriminator(d, generator(g, z), k_d2), jnp.ones(m)))(g)
        updates, g_state = opt_g.update(grads, g_state, g)
        return optax.apply_updates(g, updates), d, g_state, d_state, key, d_loss + g_loss

    return jax.jit(step, donate_argnums=(0, 1, 2, 3))


def gan_model():
    """The generator's and the discriminator's parameters: 32-128-256-64 and 64-256-128-1."""
    init = Init(0)
    g = [init.dense(a, b) for a, b in ((32, 128), (128, 256), (256, 64))]
    d = [init.dense(a, b) for a, b in ((64, 256), (256, 128), (128, 1))]
    count = sum(a.size for a in jax.tree_util.tree_leaves((g, d)))
    assert count == PARAMS["gan"], f"gan: the JAX model has {count} parameters, neuronet's {PARAMS['gan']}"
    return g, d


def gan_times(epochs):
    _, _, n, batch, _, _ = WORKLOADS["gan"]
    g, d = gan_model()
    opt_g, opt_d = optax.adam(1e-3, b1=0.5), optax.adam(1e-3, b1=0.5)
    g_state, d_state = opt_g.init(g), opt_d.init(d)
    step = gan_step(opt_g, opt_d)
    X = data("gan")[0]
    key, rng, times, compiled = jax.random.PRNGKey(1), np.random.default_rng(0), [], None
    for _ in range(epochs + 1):
        t = time.perf_counter()
        perm = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch):
            g, d, g_state, d_state, key, loss = step(g, d, g_state, d_state, jnp.asarray(X[perm[i : i + batch]]), key)
            total += float(loss)
        jax.block_until_ready((g, d))
        times.append(time.perf_counter() - t)
        compiled = compiled or step._cache_size()
    assert step._cache_size() == compiled, "a timed epoch compiled a new shape"
    return times[1:]


def jax_times(name: str, epochs: int) -> list[float]:
    """Seconds per timed epoch of the workload in JAX (after one warm-up epoch, which compiles)."""
    if name == "gan":
        return gan_times(epochs)
    _, _, n, batch, train, _ = WORKLOADS[name]
    params, state, forward = model(name)
    X, y = data(name)
    if X.dtype == np.int64:  # token ids as JAX's default int32, converted once outside timing
        X = X.astype(np.int32)
    y = y.astype(np.int32)
    times, compiled = [], None
    if train:
        opt = optax.adam(1e-3)
        opt_state = opt.init(params)
        step = train_step(forward, opt)
        rng = np.random.default_rng(0)
    else:
        step = jax.jit(lambda params, x: jax.nn.softmax(forward(params, {}, x, False)[0]))
    for _ in range(epochs + 1):
        t = time.perf_counter()
        if train:
            perm = rng.permutation(n)
            total = 0.0
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                params, state, opt_state, loss = step(
                    params, state, opt_state, jnp.asarray(X[idx]), jnp.asarray(y[idx])
                )
                total += float(loss)  # every side reads each batch's loss
            jax.block_until_ready(params)
        else:
            for i in range(0, n, batch):
                np.asarray(step(params, jnp.asarray(X[i : i + batch])))  # the probabilities back on the host
        times.append(time.perf_counter() - t)
        compiled = compiled or step._cache_size()
    assert step._cache_size() == compiled, "a timed epoch compiled a new shape"
    return times[1:]


if __name__ == "__main__":  # python bench/jax_peer.py: PARAMS against neuronet's models, and every JAX model built
    from run import neuronet_model

    for name, count in PARAMS.items():
        net = neuronet_model(name)
        layers = [net.generator, net.discriminator] if name == "gan" else [net]
        real = sum(p.data.size for model in layers for p in model.parameters())
        assert real == count, f"{name}: neuronet's model has {real} parameters, PARAMS says {count}"
        gan_model() if name == "gan" else model(name)
        print(f"{name}: {count} parameters on both sides")
