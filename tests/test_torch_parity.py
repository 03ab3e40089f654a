"""Parity with PyTorch in float64: layers, losses, optimizers and a whole training run.

Skipped cleanly where torch is not installed (``pip install torch==2.13.0``).
"""

import numpy as np
import pytest

import neuronet as nn

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-10  # float64 on both sides: only rounding differs


def t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, tol=TOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "activation", [None, "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "gelu", "silu", "elu", "selu", "softplus"]
)
def test_dense_forward_and_gradients(float64, activation):
    rng = np.random.default_rng(0)
    layer = nn.layers.Dense(5, 4, activation=activation)
    layer.biases.data[:] = rng.standard_normal(4)
    x = rng.standard_normal((3, 5))
    dy = rng.standard_normal((3, 4))
    w, b, xt = t(layer.weights.data, True), t(layer.biases.data, True), t(x, True)
    z = F.linear(xt, w.T, b)
    act = {
        None: lambda v: v,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda v: F.softmax(v, dim=-1),
        "leaky_relu": lambda v: F.leaky_relu(v, 0.01),
        "gelu": F.gelu,
        "silu": F.silu,
        "elu": F.elu,
        "selu": F.selu,
        "softplus": F.softplus,
    }[activation]
    yt = act(z)
    yt.backward(t(dy))
    close(layer.forward(x), yt)
    dx = layer.backward(dy)
    close(dx, xt.grad)
    close(layer.weights.grad, w.grad)
    close(layer.biases.grad, b.grad)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (nn.layers.ReLU(), F.relu),
        (nn.layers.LeakyReLU(0.2), lambda v: F.leaky_relu(v, 0.2)),
        (nn.layers.Sigmoid(), torch.sigmoid),
        (nn.layers.Tanh(), torch.tanh),
        (nn.layers.Softmax(), lambda v: F.softmax(v, dim=-1)),
        (nn.layers.Flatten(), lambda v: v.reshape(v.shape[0], -1)),
        (nn.layers.GELU(), torch.nn.GELU()),
        (nn.layers.SiLU(), torch.nn.SiLU()),
        (nn.layers.ELU(), torch.nn.ELU()),
        (nn.layers.ELU(0.3), torch.nn.ELU(0.3)),
        (nn.layers.SELU(), torch.nn.SELU()),
        (nn.layers.Softplus(), torch.nn.Softplus()),
    ],
    ids=repr,
)
def test_activation_layers(float64, ours, theirs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5)) * 3
    xt = t(x, True)
    yt = theirs(xt)
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(x), yt)
    close(ours.backward(dy), xt.grad)


def _onehot(labels, k=4):
    return np.eye(k)[labels]


# name: (our loss, torch's loss of (predictions, targets), domain of predictions, targets)
LOSS_CASES = {
    "mse": (nn.losses.MeanSquaredError(), lambda p, y: F.mse_loss(p, t(y)), "scores", "real"),
    "mae": (nn.losses.MeanAbsoluteError(), lambda p, y: F.l1_loss(p, t(y)), "scores", "real"),
    "bce": (nn.losses.BinaryCrossentropy(), lambda p, y: F.binary_cross_entropy(p, t(y)), "sigmoid", "binary"),
    "bce_logits": (
        nn.losses.BinaryCrossentropy(from_logits=True),
        lambda p, y: F.binary_cross_entropy_with_logits(p, t(y)),
        "scores",
        "binary",
    ),
    "bce_soft": (nn.losses.BinaryCrossentropy(), lambda p, y: F.binary_cross_entropy(p, t(y)), "sigmoid", "soft"),
    "bce_logits_soft": (
        nn.losses.BinaryCrossentropy(from_logits=True),
        lambda p, y: F.binary_cross_entropy_with_logits(p, t(y)),
        "scores",
        "soft",
    ),
    "bce_smoothed": (
        nn.losses.BinaryCrossentropy(label_smoothing=0.2),
        lambda p, y: F.binary_cross_entropy(p, t(y) * 0.8 + 0.1),
        "sigmoid",
        "binary",
    ),
    "bce_logits_smoothed": (
        nn.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        lambda p, y: F.binary_cross_entropy_with_logits(p, t(y) * 0.9 + 0.05),
        "scores",
        "binary",
    ),
    "cce_logits_smoothed": (
        nn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        lambda p, y: F.cross_entropy(p, torch.tensor(y), label_smoothing=0.1),
        "scores",
        "labels",
    ),
    "cce_logits_onehot_smoothed": (
        nn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3),
        lambda p, y: F.cross_entropy(p, t(y), label_smoothing=0.3),
        "scores",
        "onehot",
    ),
    "cce_smoothed": (
        nn.losses.CategoricalCrossentropy(label_smoothing=0.1),
        lambda p, y: -((t(_onehot(y)) * 0.9 + 0.1 / 4) * torch.log(p)).sum(dim=1).mean(),
        "softmax",
        "labels",
    ),
    "cce": (
        nn.losses.CategoricalCrossentropy(),
        lambda p, y: F.nll_loss(torch.log(p), torch.tensor(y)),
        "softmax",
        "labels",
    ),
    "cce_onehot": (
        nn.losses.CategoricalCrossentropy(),
        lambda p, y: -(t(y) * torch.log(p)).sum(dim=1).mean(),
        "softmax",
        "onehot",
    ),
    "cce_logits": (
        nn.losses.CategoricalCrossentropy(from_logits=True),
        lambda p, y: F.cross_entropy(p, torch.tensor(y)),
        "scores",
        "labels",
    ),
    "cce_logits_onehot": (
        nn.losses.CategoricalCrossentropy(from_logits=True),
        lambda p, y: F.cross_entropy(p, t(y)),
        "scores",
        "onehot",
    ),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_losses(float64, name):
    ours, theirs, domain, kind = LOSS_CASES[name]
    rng = np.random.default_rng(2)
    n, k = 7, (1 if kind in ("binary", "soft") else 4)
    z = rng.standard_normal((n, k))
    z = {"scores": z, "sigmoid": 1 / (1 + np.exp(-z)), "softmax": nn.layers.activations.softmax(z)}[domain]
    labels = rng.integers(0, 4, n)
    y = {
        "real": lambda: rng.standard_normal((n, k)),
        "binary": lambda: rng.integers(0, 2, (n, 1)).astype(np.float64),
        "soft": lambda: rng.uniform(0, 1, (n, 1)),  # targets anywhere in [0, 1], as a GAN's smoothed ones
        "labels": lambda: labels,
        "onehot": lambda: _onehot(labels),
    }[kind]()
    zt = t(z, True)
    loss_t = theirs(zt, y)
    loss_t.backward()
    assert ours(z, y) == pytest.approx(loss_t.item(), rel=TOL, abs=TOL)
    close(ours.backward(z, y), zt.grad)


def _run_optimizer(ours, make_theirs, steps=20, scheduler=None):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(steps)]
    p = nn.Parameter(w0.copy())
    wt = t(w0, True)
    opt_t = make_theirs([wt])
    sched = scheduler(opt_t) if scheduler else None
    for g in grads:
        p.grad[...] = g
        ours.step([p])
        wt.grad = t(g)
        opt_t.step()
        if sched:
            sched.step()
    close(p.data, wt, tol=1e-12)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda: nn.optimizers.SGD(0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
        (lambda: nn.optimizers.SGD(0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
        (
            lambda: nn.optimizers.SGD(0.1, momentum=0.8, nesterov=True),
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
        ),
        (
            lambda: nn.optimizers.Adagrad(0.1, epsilon=1e-10, decay=0.05),
            lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10, lr_decay=0.05),
        ),
        (
            lambda: nn.optimizers.RMSprop(0.01, rho=0.95, epsilon=1e-6),
            lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.95, eps=1e-6),
        ),
        (
            lambda: nn.optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
            lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        ),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
)
def test_optimizers_20_steps(float64, ours, theirs):
    _run_optimizer(ours(), theirs)


def test_time_based_decay_matches_a_lambda_scheduler(float64):
    decay = 0.1
    _run_optimizer(
        nn.optimizers.SGD(0.1, momentum=0.5, decay=decay),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (1 + decay * step)),
    )


def test_three_layer_network_50_adam_steps(float64):
    """Training end to end (fused softmax + cross-entropy, Adam) ends with torch's weights."""
    rng = np.random.default_rng(4)
    model = nn.Sequential(
        [
            nn.layers.Dense(6, 8, activation="relu"),
            nn.layers.Dense(8, 8, activation="tanh"),
            nn.layers.Dense(8, 3, activation="softmax"),
        ]
    )
    model.compile(loss=nn.losses.CategoricalCrossentropy(), optimizer=nn.optimizers.Adam(0.01, epsilon=1e-8))
    linears = [torch.nn.Linear(ly.n_inputs, ly.n_neurons).double() for ly in model.layers]
    with torch.no_grad():
        for lin, ly in zip(linears, model.layers):
            lin.weight.copy_(t(ly.weights.data.T))
            lin.bias.copy_(t(ly.biases.data))
    net = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1], torch.nn.Tanh(), linears[2])
    opt = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-8)
    x = rng.standard_normal((50, 6))
    y = rng.integers(0, 3, 50)
    for step in range(50):
        batch = slice((step % 5) * 10, (step % 5 + 1) * 10)
        loss = model.train_step(x[batch], y[batch])["loss"]
        opt.zero_grad()
        loss_t = F.cross_entropy(net(t(x[batch])), torch.tensor(y[batch]))
        loss_t.backward()
        opt.step()
        assert loss == pytest.approx(loss_t.item(), rel=1e-9)
    for lin, ly in zip(linears, model.layers):
        close(ly.weights.data, lin.weight.T, tol=1e-6)
        close(ly.biases.data, lin.bias, tol=1e-6)


@pytest.mark.parametrize("shape", [(8, 5), (4, 6, 5), (4, 3, 3, 5)])
def test_batchnorm_training_and_inference(float64, shape):
    rng = np.random.default_rng(5)
    ours = nn.layers.BatchNormalization(5, momentum=0.9, epsilon=1e-5)
    ours.gamma.data[:] = rng.standard_normal(5)
    ours.beta.data[:] = rng.standard_normal(5)
    theirs = torch.nn.BatchNorm1d(5, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        theirs.weight.copy_(t(ours.gamma.data))
        theirs.bias.copy_(t(ours.beta.data))

    def torch_forward(x):  # channels-last (batch, ..., C) -> (N, C) for BatchNorm1d
        return theirs(x.reshape(-1, 5)).reshape(x.shape)

    for step in range(3):
        x = rng.standard_normal(shape) * 3 + step
        dy = rng.standard_normal(shape)
        xt = t(x, True)
        theirs.train()
        yt = torch_forward(xt)
        yt.backward(t(dy))
        ours.gamma.zero_grad()
        ours.beta.zero_grad()
        close(ours.forward(x, training=True), yt)
        close(ours.backward(dy), xt.grad)
        close(ours.gamma.grad, theirs.weight.grad)
        close(ours.beta.grad, theirs.bias.grad)
        theirs.weight.grad = theirs.bias.grad = None
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)
    theirs.eval()
    x = rng.standard_normal(shape)
    xt = t(x, True)
    yt = torch_forward(xt)
    dy = rng.standard_normal(shape)
    yt.backward(t(dy))
    ours.gamma.zero_grad()
    ours.beta.zero_grad()
    close(ours.forward(x, training=False), yt)
    close(ours.backward(dy), xt.grad)
    close(ours.gamma.grad, theirs.weight.grad)  # after an inference pass too
    close(ours.beta.grad, theirs.bias.grad)


@pytest.mark.parametrize("shape", [(8, 5), (4, 6, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("epsilon", [1e-5, 1e-2])
def test_layer_normalization(float64, shape, epsilon):
    rng = np.random.default_rng(5)
    ours = nn.layers.LayerNormalization(epsilon=epsilon)
    x = rng.standard_normal(shape) * 3 + 2
    ours(x)  # built for x (its size from x's last axis)
    theirs = torch.nn.LayerNorm(shape[-1], eps=epsilon, dtype=torch.float64)
    with torch.no_grad():  # random nonzero parameters, the same on both sides
        theirs.weight.copy_(t(rng.uniform(-2, 2, shape[-1])))
        theirs.bias.copy_(t(rng.standard_normal(shape[-1])))
    ours.gamma.data[:] = theirs.weight.detach().numpy()
    ours.beta.data[:] = theirs.bias.detach().numpy()
    dy = rng.standard_normal(shape)
    for training in (True, False):  # the same in both
        xt = t(x, True)
        theirs.zero_grad()
        yt = theirs(xt)
        yt.backward(t(dy))
        ours.zero_grad()
        close(ours.forward(x, training), yt)
        close(ours.backward(dy), xt.grad)
        close(ours.gamma.grad, theirs.weight.grad)
        close(ours.beta.grad, theirs.bias.grad)


def test_adamw_20_steps(float64):
    _run_optimizer(
        nn.optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-8),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1, eps=1e-8),
    )


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_gradient_clipping_matches_torch(float64, clip):
    rng = np.random.default_rng(6)
    w0 = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    ours = [nn.Parameter(w.copy()) for w in w0]
    theirs = [t(w, True) for w in w0]
    opt = nn.optimizers.Adam(0.01, epsilon=1e-8, **{f"clip{clip}": 0.5})
    opt_t = torch.optim.Adam(theirs, lr=0.01, eps=1e-8)
    for _ in range(20):
        grads = [rng.standard_normal(w.shape) * 3 for w in w0]
        for p, pt, g in zip(ours, theirs, grads):
            p.grad[...] = g
            pt.grad = t(g)
        if clip == "norm":
            torch.nn.utils.clip_grad_norm_(theirs, 0.5)
        else:
            torch.nn.utils.clip_grad_value_(theirs, 0.5)
        opt.step(ours)
        opt_t.step()
    for p, pt in zip(ours, theirs):
        close(p.data, pt, tol=1e-12)


# -- convolutional layers: channels-last here, channels-first in PyTorch ---------------------------
def nhwc_to_nchw(a):
    return a.permute(0, 3, 1, 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3),
        dict(kernel_size=3, padding=1, stride=2),
        dict(kernel_size=(2, 3), padding=2, dilation=2),
        dict(kernel_size=3, padding="same"),
        dict(kernel_size=1, stride=3),
    ],
)
@pytest.mark.parametrize("c_in", [3, 16])  # few channels and many take different paths to dx
def test_conv2d(float64, kwargs, c_in):
    rng = np.random.default_rng(10)
    ours = nn.layers.Conv2D(c_in, 4, **kwargs)
    ours.biases.data[:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 9, 8, c_in))
    xt = t(x, True)
    w = t(ours.weights.data.transpose(3, 2, 0, 1), True)  # (kh, kw, in, out) -> (out, in, kh, kw)
    b = t(ours.biases.data, True)
    yt = F.conv2d(
        nhwc_to_nchw(xt),
        w,
        b,
        stride=kwargs.get("stride", 1),
        padding=kwargs.get("padding", 0),
        dilation=kwargs.get("dilation", 1),
    ).permute(0, 2, 3, 1)
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(x), yt)
    close(ours.backward(dy), xt.grad)
    close(ours.weights.grad, w.grad.permute(2, 3, 1, 0))
    close(ours.biases.grad, b.grad)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=5), dict(kernel_size=3, stride=2, padding=1, dilation=2)])
@pytest.mark.parametrize("c_in", [4, 20])
def test_conv1d(float64, kwargs, c_in):
    rng = np.random.default_rng(11)
    ours = nn.layers.Conv1D(c_in, 6, **kwargs)
    x = rng.standard_normal((3, 12, c_in))
    xt = t(x, True)
    w = t(ours.weights.data.transpose(2, 1, 0), True)  # (k, in, out) -> (out, in, k)
    b = t(ours.biases.data, True)
    yt = F.conv1d(
        xt.transpose(1, 2),
        w,
        b,
        stride=kwargs.get("stride", 1),
        padding=kwargs.get("padding", 0),
        dilation=kwargs.get("dilation", 1),
    ).transpose(1, 2)
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(x), yt)
    close(ours.backward(dy), xt.grad)
    close(ours.weights.grad, w.grad.permute(2, 1, 0))
    close(ours.biases.grad, b.grad)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (nn.layers.MaxPool2D(2), lambda v: F.max_pool2d(v, 2)),
        (nn.layers.MaxPool2D(3, stride=2), lambda v: F.max_pool2d(v, 3, stride=2)),
        (nn.layers.AvgPool2D((2, 3)), lambda v: F.avg_pool2d(v, (2, 3))),
        (nn.layers.GlobalAvgPool2D(), lambda v: v.mean(dim=(2, 3))),
        (nn.layers.GlobalMaxPool2D(), lambda v: v.amax(dim=(2, 3))),
    ],
)
def test_pool2d(float64, ours, theirs):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 7, 9, 3))
    xt = t(x, True)
    yt = theirs(nhwc_to_nchw(xt))
    yt = yt.permute(0, 2, 3, 1) if yt.ndim == 4 else yt
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(x), yt)
    close(ours.backward(dy), xt.grad)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (nn.layers.MaxPool1D(3, stride=2), lambda v: F.max_pool1d(v, 3, stride=2)),
        (nn.layers.AvgPool1D(2), lambda v: F.avg_pool1d(v, 2)),
        (nn.layers.GlobalMaxPool1D(), lambda v: v.amax(dim=2)),
        (nn.layers.GlobalAvgPool1D(), lambda v: v.mean(dim=2)),
    ],
)
def test_pool1d(float64, ours, theirs):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 11, 3))
    xt = t(x, True)
    yt = theirs(xt.transpose(1, 2))
    yt = yt.transpose(1, 2) if yt.ndim == 3 else yt
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(x), yt)
    close(ours.backward(dy), xt.grad)


def test_embedding(float64):
    rng = np.random.default_rng(14)
    ours = nn.layers.Embedding(20, 4, padding_id=3)
    theirs = torch.nn.Embedding(20, 4, padding_idx=3).double()
    with torch.no_grad():
        theirs.weight.copy_(t(ours.weights.data))
    ids = rng.integers(0, 20, (5, 7))
    yt = theirs(torch.tensor(ids))
    dy = rng.standard_normal(yt.shape)
    yt.backward(t(dy))
    close(ours.forward(ids), yt)
    ours.backward(dy)
    close(ours.weights.grad, theirs.weight.grad)


def test_small_cnn_20_adam_steps(float64):
    """Conv, pooling and dense trained together end with PyTorch's weights."""
    rng = np.random.default_rng(15)
    L = nn.layers
    model = nn.Sequential(
        [
            L.Conv2D(1, 4, 3, padding="same", activation="relu"),
            L.MaxPool2D(2),
            L.Conv2D(4, 6, 3, stride=2, padding=1, activation="tanh"),
            L.GlobalAvgPool2D(),
            L.Dense(6, 3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01, epsilon=1e-8))
    c1, c2 = torch.nn.Conv2d(1, 4, 3, padding=1).double(), torch.nn.Conv2d(4, 6, 3, stride=2, padding=1).double()
    lin = torch.nn.Linear(6, 3).double()
    with torch.no_grad():
        for conv, ours in ((c1, model.layers[0]), (c2, model.layers[2])):
            conv.weight.copy_(t(ours.weights.data.transpose(3, 2, 0, 1)))
            conv.bias.copy_(t(ours.biases.data))
        lin.weight.copy_(t(model.layers[4].weights.data.T))
        lin.bias.copy_(t(model.layers[4].biases.data))

    def net(v):
        h = F.max_pool2d(torch.relu(c1(v)), 2)
        return lin(torch.tanh(c2(h)).mean(dim=(2, 3)))

    opt = torch.optim.Adam([*c1.parameters(), *c2.parameters(), *lin.parameters()], lr=0.01, eps=1e-8)
    x = rng.standard_normal((40, 8, 8, 1))
    y = rng.integers(0, 3, 40)
    for step in range(20):
        batch = slice((step % 4) * 10, (step % 4 + 1) * 10)
        loss = model.train_step(x[batch], y[batch])["loss"]
        opt.zero_grad()
        loss_t = F.cross_entropy(net(nhwc_to_nchw(t(x[batch]))), torch.tensor(y[batch]))
        loss_t.backward()
        opt.step()
        assert loss == pytest.approx(loss_t.item(), rel=1e-9)
    for conv, ours in ((c1, model.layers[0]), (c2, model.layers[2])):
        close(ours.weights.data, conv.weight.permute(2, 3, 1, 0), tol=1e-6)
        close(ours.biases.data, conv.bias, tol=1e-6)
    close(model.layers[4].weights.data, lin.weight.T, tol=1e-6)


@pytest.mark.parametrize("targets", ["labels", "onehot"])
def test_cross_entropy_over_a_sequence_of_rows(float64, targets):
    """(batch, time, classes) with one label per step: torch's cross_entropy on (batch, classes, time)."""
    rng = np.random.default_rng(9)
    z, labels = rng.standard_normal((4, 6, 3)), rng.integers(0, 3, (4, 6))
    y = labels if targets == "labels" else np.eye(3)[labels]
    ours = nn.losses.CategoricalCrossentropy(from_logits=True)
    zt = t(z, True)
    target = torch.tensor(labels) if targets == "labels" else t(y).permute(0, 2, 1)
    loss_t = F.cross_entropy(zt.permute(0, 2, 1), target)
    loss_t.backward()
    assert ours(z, y) == pytest.approx(loss_t.item(), rel=TOL)
    close(ours.backward(z, y), zt.grad)
