"""Recurrent layers: agreement with their plain references, gradients by finite differences, parity with
torch.nn.RNN/LSTM/GRU (float64, packed sequences included), padding, errors, saving, and learning what only a
recurrent network can."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from splitting import assert_split_equals_whole

import neuronet as nn
from neuronet.gradcheck import check_layer
from neuronet.layers.gru import gru_reference
from neuronet.layers.lstm import lstm_reference
from neuronet.layers.simple_rnn import simple_rnn_reference

L = nn.layers
CELLS = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}


def make(kind, n_in, hidden, seed=0, **kwargs):
    """A cell with random, nonzero parameters (biases included), in the current float type."""
    if kind == "relu":
        layer = L.SimpleRNN(n_in, hidden, activation="relu", **kwargs)
    else:
        layer = CELLS[kind](n_in, hidden, **kwargs)
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    return layer


def assert_small(errors, tol=1e-6):
    assert errors
    for name, err in errors.items():
        assert err < tol, f"{name}: relative error {err:.2e}"


def lengths_mask(lengths, steps, pre=False):
    """(batch, steps) True at the real steps: the first ``length`` (post-padding) or the last (pre-padding)."""
    pos = np.arange(steps)[None, :]
    lengths = np.asarray(lengths)[:, None]
    return pos >= steps - lengths if pre else pos < lengths


class Masked(L.Layer):
    """A layer called with a fixed mask, for check_layer."""

    def __init__(self, layer, mask):
        super().__init__()
        self.layer, self.mask = layer, mask

    def sublayers(self):
        return {"layer": self.layer}

    def forward(self, x, training=False):
        return self.layer.forward(x, training, mask=self.mask)

    def backward(self, dy):
        return self.layer.backward(dy)


# -- the plain references -------------------------------------------------------------------------------------
def reference(layer, x, mask=None):
    """The plain reference of ``layer``'s cell, run on its parameters and settings."""
    arrays = {name: p.data for name, p in layer.named_parameters().items()}
    settings = {"return_sequences": layer.return_sequences, "mask": mask}
    if isinstance(layer, L.SimpleRNN):
        return simple_rnn_reference(x, **arrays, activation=layer.activation, **settings)
    return (lstm_reference if isinstance(layer, L.LSTM) else gru_reference)(x, **arrays, **settings)


@pytest.mark.parametrize("kind", ["SimpleRNN", "relu", "LSTM", "GRU"])
@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("padding", [None, "post", "pre"])
def test_each_layer_agrees_with_its_plain_reference(float64, kind, sequences, padding):
    """The tuned layer (gates kept apart, sigmoids as halved tanh) computes the textbook equations."""
    x = np.random.default_rng(2).standard_normal((4, 6, 3))
    mask = None if padding is None else lengths_mask([6, 4, 1, 0], 6, pre=padding == "pre")
    layer = make(kind, 3, 5, seed=8, return_sequences=sequences)
    expected = reference(layer, x, mask)
    assert expected.shape == ((4, 6, 5) if sequences else (4, 5)) and np.abs(expected).max() > 0.1
    np.testing.assert_allclose(layer.forward(x, mask=mask), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.forward(x, training=True, mask=mask), expected, rtol=1e-10, atol=1e-12)


# -- gradients ---------------------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(["SimpleRNN", "relu", "LSTM", "GRU"]),
    batch=st.integers(1, 3),
    steps=st.integers(1, 5),
    n_in=st.integers(1, 4),
    hidden=st.integers(1, 4),
    sequences=st.booleans(),
    seed=st.integers(0, 100),
)
def test_each_cell_matches_finite_differences(kind, batch, steps, n_in, hidden, sequences, seed):
    nn.set_dtype("float64")
    try:
        layer = make(kind, n_in, hidden, seed, return_sequences=sequences)
        x = np.random.default_rng(seed + 1).standard_normal((batch, steps, n_in))
        assert_small(check_layer(layer, x, training=True))
    finally:
        nn.set_dtype("float32")


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("pre", [False, True])
def test_gradients_with_padding_match_finite_differences(float64, kind, pre):
    x = np.random.default_rng(3).standard_normal((3, 5, 2))
    mask = lengths_mask([5, 2, 0], 5, pre)  # whole, padded, and padding only
    for sequences in (False, True):
        assert_small(check_layer(Masked(make(kind, 2, 3, return_sequences=sequences), mask), x, training=True))


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_matches_finite_differences(float64, merge, kind):
    x = np.random.default_rng(4).standard_normal((2, 4, 3))
    for sequences in (False, True):
        layer = L.Bidirectional(make(kind, 3, 2, return_sequences=sequences), merge_mode=merge)
        for p in layer.backward_layer.parameters():
            p.data[...] = np.random.default_rng(9).uniform(-0.6, 0.6, p.shape)
        assert_small(check_layer(layer, x, training=True))
        mask = lengths_mask([4, 2], 4)
        assert_small(check_layer(Masked(layer, mask), x, training=True))


def test_stacked_layers_match_finite_differences(float64):
    """return_sequences=True into a second recurrent layer, through a model's passes."""
    model = nn.Sequential([make("LSTM", 2, 3, return_sequences=True), make("GRU", 3, 2, seed=1)])
    x = np.random.default_rng(5).standard_normal((2, 4, 2))
    r = np.random.default_rng(6).standard_normal((2, 2))

    def loss():
        return float(np.sum(model.forward(x) * r))

    model.zero_grad()
    model.forward(x, training=True)
    model.backward(r)
    from neuronet.gradcheck import numerical_gradient, relative_error

    for p in model.parameters():
        assert relative_error(p.grad, numerical_gradient(loss, p.data)) < 1e-6


# -- parity with PyTorch -------------------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def copy_to_torch(ours, module, suffix=""):
    """Our parameters into a torch.nn.RNN/LSTM/GRU (direction ``suffix`` "" or "_reverse")."""
    torch = _torch()
    with torch.no_grad():
        getattr(module, f"weight_ih_l0{suffix}").copy_(torch.tensor(ours.input_weights.data.T))
        getattr(module, f"weight_hh_l0{suffix}").copy_(torch.tensor(ours.recurrent_weights.data.T))
        if isinstance(ours, L.GRU):  # b_ih and b_hh one to one
            getattr(module, f"bias_ih_l0{suffix}").copy_(torch.tensor(ours.biases.data))
            getattr(module, f"bias_hh_l0{suffix}").copy_(torch.tensor(ours.recurrent_biases.data))
        else:  # one bias is b_ih + b_hh: split it unevenly, so that only the sum can match
            split = np.random.default_rng(7).standard_normal(ours.biases.shape)
            getattr(module, f"bias_ih_l0{suffix}").copy_(torch.tensor(split))
            getattr(module, f"bias_hh_l0{suffix}").copy_(torch.tensor(ours.biases.data - split))


def torch_module(kind, n_in, hidden, **kwargs):
    torch = _torch()
    if kind in ("SimpleRNN", "relu"):
        return torch.nn.RNN(n_in, hidden, nonlinearity="relu" if kind == "relu" else "tanh", batch_first=True, **kwargs)
    return getattr(torch.nn, kind)(n_in, hidden, batch_first=True, **kwargs)


def assert_gradients_match(ours, module, suffix=""):
    grads = {
        "input_weights": getattr(module, f"weight_ih_l0{suffix}").grad.T,
        "recurrent_weights": getattr(module, f"weight_hh_l0{suffix}").grad.T,
    }
    bias_ih, bias_hh = getattr(module, f"bias_ih_l0{suffix}").grad, getattr(module, f"bias_hh_l0{suffix}").grad
    if isinstance(ours, L.GRU):
        grads |= {"biases": bias_ih, "recurrent_biases": bias_hh}
    else:
        np.testing.assert_allclose(bias_ih.numpy(), bias_hh.numpy(), atol=1e-12)  # the same gradient
        grads["biases"] = bias_ih
    for name, theirs in grads.items():
        np.testing.assert_allclose(getattr(ours, name).grad, theirs.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


def last_state(h_n):
    """torch's (layers * directions, batch, H) final states, directions side by side: (batch, 2H)."""
    h = h_n[0] if isinstance(h_n, tuple) else h_n
    return h.permute(1, 0, 2).reshape(h.shape[1], -1)


def assert_matches_torch(ours, theirs, x, run=None, mask=None, seed=0):
    """Output, input gradient and every parameter gradient of ``ours`` (a cell or a Bidirectional) against
    the torch module ``theirs``, run on x by ``run(module, x) -> (out, h_n)`` (a plain call by default)."""
    torch = _torch()
    theirs.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    out, h_n = (run or (lambda module, v: module(v)))(theirs, xt)
    sequences = ours.return_sequences
    yt = out if sequences else last_state(h_n)
    y = ours.forward(x, training=True, mask=mask)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = np.random.default_rng(seed).standard_normal(y.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    if isinstance(ours, L.Bidirectional):
        assert_gradients_match(ours.forward_layer, theirs)
        assert_gradients_match(ours.backward_layer, theirs, "_reverse")
    else:
        assert_gradients_match(ours, theirs)


@pytest.mark.parametrize("kind", ["SimpleRNN", "relu", "LSTM", "GRU"])
@pytest.mark.parametrize("sequences", [False, True])
def test_parity_with_torch(float64, kind, sequences):
    ours = make(kind, 4, 5, return_sequences=sequences)
    theirs = torch_module(kind, 4, 5).double()
    copy_to_torch(ours, theirs)
    assert_matches_torch(ours, theirs, np.random.default_rng(1).standard_normal((3, 6, 4)))


def packed(lengths):
    """A run of a torch module on packed sequences of ``lengths``: the padded steps never run (zero output)."""
    torch = _torch()
    rnn = torch.nn.utils.rnn

    def run(module, x):
        sequences = rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, h_n = module(sequences)
        return rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0], h_n

    return run


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_sequences_match_torch_packed_sequences(float64, kind, bidirectional):
    lengths = [6, 3, 1, 5]
    x = np.random.default_rng(3).standard_normal((4, 6, 3))
    x[lengths_mask(lengths, 6) == 0] = 7.0  # values at padded steps must change nothing
    theirs = torch_module(kind, 3, 4, bidirectional=bidirectional).double()
    for sequences in (False, True):
        ours = make(kind, 3, 4, return_sequences=sequences)
        copy_to_torch(ours, theirs)
        if bidirectional:
            ours = L.Bidirectional(ours, backward_layer=make(kind, 3, 4, seed=5, return_sequences=sequences))
            copy_to_torch(ours.backward_layer, theirs, "_reverse")
        assert_matches_torch(ours, theirs, x, packed(lengths), lengths_mask(lengths, 6), seed=4)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_matches_torch(float64, kind):
    theirs = torch_module(kind, 3, 4, bidirectional=True).double()
    x = np.random.default_rng(5).standard_normal((2, 5, 3))
    for sequences in (False, True):
        ours = L.Bidirectional(make(kind, 3, 4, return_sequences=sequences))
        copy_to_torch(ours.forward_layer, theirs)
        copy_to_torch(ours.backward_layer, theirs, "_reverse")
        assert_matches_torch(ours, theirs, x, seed=6)


# -- padding through a model ---------------------------------------------------------------------------------
def text_model(kind, bidirectional=False, sequences=False):
    layer = make(kind, 4, 5, return_sequences=sequences)
    return nn.Sequential([L.Embedding(20, 4, padding_id=0), L.Bidirectional(layer) if bidirectional else layer])


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_padded_sequence_ends_in_the_state_of_the_unpadded_one(kind, bidirectional):
    nn.set_seed(0)
    model = text_model(kind, bidirectional)
    tokens = [[3, 7, 1, 9], [5], [2, 2, 8]]
    alone = np.concatenate([model.predict(np.array([t])) for t in tokens])
    for padding in ("post", "pre"):
        ids = nn.text.pad_sequences(tokens, maxlen=7, padding=padding)
        np.testing.assert_allclose(model.predict(ids), alone, rtol=1e-5, atol=1e-6)


def test_a_sequence_of_padding_only_keeps_the_zero_state():
    nn.set_seed(0)
    for kind in CELLS:
        out = text_model(kind, bidirectional=True, sequences=True).predict(np.zeros((2, 5), dtype=int))
        assert out.shape == (2, 5, 10) and not out.any()
        assert not text_model(kind).predict(np.zeros((1, 3), dtype=int)).any()


def test_padded_steps_output_zero_and_real_steps_match_the_unpadded_run():
    nn.set_seed(0)
    model = text_model("LSTM", sequences=True)
    full = model.predict(np.array([[4, 6, 2]]))
    out = model.predict(np.array([[4, 6, 2, 0, 0], [0, 0, 4, 6, 2]]))
    np.testing.assert_allclose(out[0, :3], full[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1, 2:], full[0], rtol=1e-5, atol=1e-6)
    assert not out[0, 3:].any() and not out[1, :2].any()


def test_the_mask_passes_through_dropout_and_stacked_layers():
    nn.set_seed(0)
    model = nn.Sequential(
        [L.Embedding(20, 4, padding_id=0), L.Dropout(0.0), L.GRU(4, 6, return_sequences=True), L.LSTM(6, 3)]
    )
    ids = nn.text.pad_sequences([[3, 1, 4], [1, 5]], maxlen=6)
    alone = np.concatenate([model.predict(np.array([t])) for t in ([3, 1, 4], [1, 5])])
    np.testing.assert_allclose(model.predict(ids), alone, rtol=1e-5, atol=1e-6)


def test_a_split_batch_gives_the_gradients_of_the_whole_batch(float64):
    """steps/threads.py cuts a recurrent model's batch into parts; masks travel with each part."""

    nn.set_seed(0)
    model = nn.Sequential([L.Embedding(30, 4, padding_id=0), L.LSTM(4, 5), L.Dense(5, 3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    rng = np.random.default_rng(0)
    ids = nn.text.pad_sequences([list(rng.integers(1, 30, rng.integers(1, 8))) for _ in range(200)], maxlen=8)
    x, y = model.check_data(ids, rng.integers(0, 3, 200))
    assert_split_equals_whole(model, x, y)


# -- errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CELLS))
def test_bad_inputs_are_clear_errors(kind):
    layer = CELLS[kind](3, 4)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, time, 3\).*\(2, 3\)"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(batch, time, 3\).*\(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="length 0.*at least one step"):
        layer.forward(np.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"mask of booleans shaped \(batch, time\) = \(2, 5\)"):
        layer.forward(np.zeros((2, 5, 3)), mask=np.ones((2, 4), bool))
    with pytest.raises(RuntimeError, match="training=True"):
        CELLS[kind](3, 4).backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        CELLS[kind](3, 0)


def test_bad_settings_and_models_are_clear_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        L.SimpleRNN(2, 3, activation="sigmoid")
    for wrong in (L.Dense(2, 3), None):
        with pytest.raises(ValueError, match="must be a recurrent layer"):
            L.Bidirectional(wrong)
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        L.Bidirectional(L.LSTM(2, 3), merge_mode="max")
    with pytest.raises(ValueError, match="settings of its layer"):
        L.Bidirectional(L.LSTM(2, 3), backward_layer=L.LSTM(2, 4))
    model = nn.Sequential([L.Embedding(10, 4, padding_id=0), L.LSTM(4, 3), L.Dense(3, 2, activation="softmax")])
    model.compile()
    with pytest.raises(ValueError, match=r"token ids must be in 0..9, found 0..12"):
        model.fit(np.array([[1, 12, 0]]), np.array([1]), verbose=0)
    wrong = nn.Sequential([L.Embedding(10, 8), L.LSTM(4, 3)])
    with pytest.raises(ValueError, match=r"layer 'lstm' \(LSTM\) expects input of shape \(batch, time, 4\)"):
        wrong.predict(np.array([[1, 2]]))


# -- saving ------------------------------------------------------------------------------------------------
def test_stacked_and_bidirectional_models_save_and_load_exactly(tmp_path):
    nn.set_seed(0)
    model = nn.Sequential(
        [
            L.Embedding(20, 4, padding_id=0),
            L.Bidirectional(L.GRU(4, 5, return_sequences=True), merge_mode="sum"),
            L.LSTM(5, 6, return_sequences=True, unit_forget_bias=False),
            L.Bidirectional(L.SimpleRNN(6, 3, activation="relu")),
            L.Dense(6, 2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", metrics=["accuracy"])
    ids = nn.text.pad_sequences([[1, 2, 3], [4, 5], [6]], maxlen=4)
    model.fit(ids, np.array([0, 1, 1]), epochs=2, verbose=0)
    model.save(tmp_path / "m.nnet")
    loaded = nn.load_model(tmp_path / "m.nnet")
    assert "1.bidirectional.backward.recurrent_biases" in loaded.named_arrays()
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- learning ----------------------------------------------------------------------------------------------
def marker_order(n, rng, length=10):
    """Which of two marker tokens (1, 2) comes first among filler tokens: the same bag of words either way."""
    ids = rng.integers(3, 12, (n, length))
    first = rng.integers(0, 2, n)
    for row, label in zip(ids, first):
        a, b = sorted(rng.choice(length, 2, replace=False))
        row[a], row[b] = (1, 2) if label == 0 else (2, 1)
    return ids, first


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_a_recurrent_network_learns_word_order(kind):
    nn.set_seed(0)
    rng = np.random.default_rng(0)
    x, y = marker_order(1200, rng)
    model = nn.Sequential([L.Embedding(12, 8), CELLS[kind](8, 16), L.Dense(16, 2, activation="softmax")])
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(x[1000:], y[1000:])["accuracy"] >= 0.95


def test_a_bag_of_words_cannot_learn_word_order():
    """The same task for a model that sees only which tokens occur: it stays near chance."""
    nn.set_seed(0)
    rng = np.random.default_rng(0)
    x, y = marker_order(1200, rng)
    model = nn.Sequential([L.Embedding(12, 8), L.GlobalAvgPool1D(), L.Dense(8, 2, activation="softmax")])
    model.compile(optimizer=nn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(x[1000:], y[1000:])["accuracy"] < 0.65


def test_gradient_clipping_keeps_a_long_simple_rnn_from_diverging():
    """A relu SimpleRNN over 100 steps with recurrent weights a little above 1 explodes; clipnorm holds it."""

    def train(clipnorm):
        nn.set_seed(0)
        rnn = L.SimpleRNN(1, 8, activation="relu")
        rnn.recurrent_weights.data[...] = 1.15 * np.eye(8)
        model = nn.Sequential([rnn, L.Dense(8, 1)])
        model.compile(loss="mse", optimizer=nn.optimizers.SGD(0.01, clipnorm=clipnorm))
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, (256, 100, 1))
        history = model.fit(x, x.mean(axis=(1, 2)), epochs=5, batch_size=32, verbose=0)
        return model.finite(), history.history["loss"]

    with pytest.warns(RuntimeWarning, match="training stopped: the loss became nan"):
        finite, _ = train(None)
    assert not finite  # without clipping the weights blow up
    finite, losses = train(1.0)
    assert finite and np.isfinite(losses).all() and losses[-1] < losses[0]
