"""nn.text.generate: the cached steps give the distributions of full passes over the prefix, sampling (seeded,
greedy, top_k, temperature), text prompts, the errors, and a model that runs as before once it is done."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.checks import ArgumentError
from neuronet.generation import cached
from neuronet.layers.base import Layer

L = nn.layers
V, E, H, T = 11, 8, 2, 24  # vocabulary, features, heads, positions


def randomised(model, seed=0):
    """Random nonzero weights and biases everywhere (attention's biases start at 0), the model built first."""
    model.predict(np.zeros((1, 2), dtype=np.int64))
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    return model


def graph_model(padding_id=None, logits=False):
    """Embedding -> PositionalEmbedding -> x + MHA(causal)(LayerNorm(x)) -> x + Dense(GELU(Dense(LayerNorm(x))))
    -> Dense(vocab, softmax), a pre-norm Transformer block as a graph."""
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(T, E)(L.Embedding(V, E, padding_id=padding_id)(x))
    h = L.Add()([h, L.MultiHeadAttention(E, H, causal=True)(L.LayerNormalization()(h))])
    h = L.Add()([h, L.Dense(E)(L.GELU()(L.Dense(16)(L.LayerNormalization()(h))))])
    y = L.Dense(V, activation=None if logits else "softmax")(L.LayerNormalization()(h))
    return randomised(nn.Model(x, y))


def sequential_model():
    """Two causal attentions in a Sequential, sinusoidal positions, dropout (off in inference)."""
    return randomised(
        nn.Sequential(
            [
                L.Embedding(V, E),
                L.PositionalEmbedding(T, E, sinusoidal=True),
                L.MultiHeadAttention(E, H, causal=True, dropout=0.1),
                L.LayerNormalization(),
                L.MultiHeadAttention(E, H, causal=True),
                L.Dense(16, activation="relu"),
                L.Dropout(0.2),
                L.Dense(V, activation="softmax"),
            ]
        )
    )


class Block(Layer, abstract=True):
    """A layer that holds layers, y = x + Dense(MHA(x)), as a Transformer block holds its own: all it says
    about generation is that it combines them step by step."""

    held_stepwise = True  # all it says about generation: its sum is step by step

    def __init__(self) -> None:
        super().__init__()
        self.attention, self.dense = L.MultiHeadAttention(E, H, causal=True), L.Dense(E, E)

    def sublayers(self):
        return {"attention": self.attention, "dense": self.dense}

    def forward(self, x, training=False):
        return x + self.dense.forward(self.attention.forward(x, training), training)

    def backward(self, dy):
        return dy + self.attention.backward(self.dense.backward(dy))


def test_a_layer_holding_layers_must_say_it_combines_them_step_by_step():
    class Mean(Block, abstract=True):  # a mean over time around the same layers: no step is its own
        held_stepwise = False

    model = nn.Sequential([L.Embedding(V, E), L.PositionalEmbedding(T, E), Mean(), L.Dense(V, activation="softmax")])
    with pytest.raises(ArgumentError, match="does not say that it combines their outputs step by step"):
        nn.text.generate(model, [1, 2], 3)


def held_model():
    return randomised(
        nn.Sequential(
            [L.Embedding(V, E), L.PositionalEmbedding(T, E), Block(), Block(), L.Dense(V, activation="softmax")]
        )
    )


def uncached(model, sequence, start):
    """The model's distribution of each next token by full passes over the prefix: its last step's output."""
    return np.array([model.predict(sequence[None, :t])[0, -1] for t in range(start, len(sequence))], dtype=np.float64)


def transformer_model(causal=True):
    """TransformerEncoder blocks, pre-norm and post-norm: their attention's cache works inside them."""
    return randomised(
        nn.Sequential(
            [
                L.Embedding(V, E),
                L.PositionalEmbedding(T, E),
                L.TransformerEncoder(E, H, 16, dropout=0.1, activation="gelu", norm_first=True, causal=causal),
                L.TransformerEncoder(E, H, 16, dropout=0.1, norm_first=False, causal=causal),
                L.Dense(V, activation="softmax"),
            ]
        )
    )


def normalised_model():
    """Causal attention then BatchNormalization, whose running statistics (all it uses in inference) are set."""
    model = randomised(
        nn.Sequential(
            [
                L.Embedding(V, E),
                L.PositionalEmbedding(T, E),
                L.MultiHeadAttention(E, H, causal=True),
                L.BatchNormalization(),
                L.Dense(V, activation="softmax"),
            ],
            input_shape=(None,),
        )  # fmt: skip
    )
    norm = model.layers[3]
    rng = np.random.default_rng(3)
    norm.running_mean[:] = rng.standard_normal(E)
    norm.running_var[:] = rng.uniform(0.5, 2.0, E)
    return model


MODELS = {"graph": graph_model, "sequential": sequential_model, "held": held_model, "transformer": transformer_model,
          "batch norm": normalised_model}  # fmt: skip


@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-6), ("float64", 1e-10)])
def test_cached_steps_equal_full_passes(make, dtype, tolerance):
    nn.set_dtype(dtype)
    try:
        model = MODELS[make]()
        prompt = [3, 1, 4, 1, 5]
        out, probabilities = nn.text.generate(model, prompt, 15, seed=2, return_probabilities=True)
        assert out.dtype == np.int64 and len(out) == 20 and list(out[:5]) == prompt
        assert probabilities.shape == (15, V)
        np.testing.assert_allclose(probabilities, uncached(model, out, 5), rtol=0, atol=tolerance)
        assert probabilities.std(axis=0).max() > 1e-4  # (the distributions move with the prefix: a real test)
    finally:
        nn.set_dtype("float32")


def test_logits_and_padded_keys(float64):
    """A model giving scores (no softmax): the distribution is their softmax. A prompt holding the padding id:
    the cached key mask hides it as the full pass's mask does."""
    model = graph_model(padding_id=0, logits=True)
    prompt = [2, 0, 0, 5, 0, 7]
    out, probabilities = nn.text.generate(model, prompt, 8, seed=1, return_probabilities=True)
    scores = np.array([model.predict(out[None, :t])[0, -1] for t in range(6, 14)])
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-10)


def test_each_new_token_runs_alone():
    """After the prompt, a call holds one step: the attention's last weights are one query over every key."""
    model = graph_model()
    nn.text.generate(model, [1, 2, 3], 6, seed=0)
    attention = next(layer for layer in model.graph.layers if isinstance(layer, L.MultiHeadAttention))
    assert attention.attention_scores.shape == (1, H, 1, 8)  # the 8th token read: 3 of the prompt, 5 written


def test_seeded_sampling_repeats():
    model = graph_model()
    a = nn.text.generate(model, [1, 2], 20, seed=7)
    b = nn.text.generate(model, [1, 2], 20, seed=7)
    np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, nn.text.generate(model, [1, 2], 20, seed=s)) for s in (8, 9, 10))
    nn.set_seed(3)  # seed=None draws from neuronet's generator
    c = nn.text.generate(model, [1, 2], 20)
    nn.set_seed(3)
    np.testing.assert_array_equal(c, nn.text.generate(model, [1, 2], 20))


def test_greedy_takes_the_argmax_and_top_k_1_is_greedy():
    model = graph_model()
    greedy, probabilities = nn.text.generate(model, [4, 4], 12, temperature=0, return_probabilities=True)
    np.testing.assert_array_equal(greedy[2:], probabilities.argmax(axis=1))
    for seed in (0, 1):
        np.testing.assert_array_equal(nn.text.generate(model, [4, 4], 12, top_k=1, seed=seed), greedy)
    # a temperature near 0 sharpens the distribution to its most likely token
    np.testing.assert_array_equal(nn.text.generate(model, [4, 4], 12, temperature=1e-12, seed=5), greedy)


def test_top_k_draws_among_the_k_most_likely():
    model = graph_model()
    out, probabilities = nn.text.generate(model, [1], 23, top_k=3, temperature=2.0, seed=0, return_probabilities=True)
    ranks = (probabilities > probabilities[np.arange(23), out[1:]][:, None]).sum(axis=1)
    assert ranks.max() <= 2 and ranks.max() > 0
    # a top_k beyond the vocabulary keeps every token: the same draws as none
    np.testing.assert_array_equal(
        nn.text.generate(model, [1], 10, top_k=1000, seed=4), nn.text.generate(model, [1], 10, seed=4)
    )


def test_a_text_prompt_with_a_character_vocabulary():
    vocabulary = "abcdefghij "
    model = graph_model()
    text = nn.text.generate(model, "a cab", 9, seed=3, vocabulary=vocabulary)
    assert isinstance(text, str) and len(text) == 14 and text.startswith("a cab")
    ids = nn.text.generate(model, [0, 10, 2, 0, 1], 9, seed=3)
    assert text == "".join(vocabulary[i] for i in ids)
    assert nn.text.generate(model, "a cab", 9, seed=3, vocabulary=list(vocabulary)) == text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -0.5}, "temperature must be >= 0"),
        ({"temperature": float("nan")}, "temperature must be a finite number"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"top_k": 0}, "top_k must be >= 1"),
        ({"top_k": 2.5}, "top_k must be an int"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"seed": "x"}, "seed must be an int"),
        ({"prompt": []}, "prompt is empty"),
        ({"prompt": [[1, 2]]}, "one sequence of token ids"),
        ({"prompt": [1.5]}, "whole numbers"),
        ({"prompt": "abc"}, "no vocabulary"),
        ({"prompt": "abz", "vocabulary": "abc"}, "characters the vocabulary lacks: 'z'"),
        ({"prompt": "ab", "vocabulary": "abc"}, "vocabulary has 3 characters, but the model chooses among 11"),
        ({"prompt": "ab", "vocabulary": ["ab", "c"]}, "vocabulary must be the characters by id"),
        ({"prompt": "ab", "vocabulary": "aab"}, "holds a character twice"),
        ({"prompt": list(range(10)), "steps": 16}, "reads 25 tokens .* max_length=24"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    model = graph_model()
    arguments = {"prompt": [1, 2], "steps": 3, **kwargs}
    with pytest.raises(ArgumentError, match=message):
        nn.text.generate(model, **arguments)


def test_the_longest_sequence_that_fits():
    """The model reads every token but the last it writes: prompt + steps - 1 = max_length fits."""
    out = nn.text.generate(graph_model(), list(range(10)), 15, seed=0)
    assert len(out) == 25


def test_no_new_token_gives_the_prompt_and_no_distribution():
    """steps=0 reads the prompt alone: it must fit max_length by itself (T tokens), and no token is drawn."""
    prompt = [1, 2] * (T // 2)
    out, probabilities = nn.text.generate(graph_model(), prompt, 0, return_probabilities=True)
    assert list(out) == prompt and probabilities.shape == (0, V)
    with pytest.raises(ArgumentError, match="max_length"):
        nn.text.generate(graph_model(), prompt + [1], 0)


def test_cross_attention_is_refused_while_generating():
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.PositionalEmbedding(T, E)(L.Embedding(V, E)(x))
    h = L.MultiHeadAttention(E, H, causal=True)([h, L.Dense(E)(h)])
    with pytest.raises(ValueError, match="self-attention only, not cross-attention"):
        nn.text.generate(nn.Model(x, L.Dense(V, activation="softmax")(h)), [1, 2], 2)


@pytest.mark.parametrize(
    "layers, message",
    [
        ([L.MultiHeadAttention(E, H)], "multi_head_attention' \\(MultiHeadAttention\\) cannot: it is not causal"),
        ([L.LSTM(E, E, return_sequences=True)], "'lstm' \\(LSTM\\) cannot"),
        ([L.Conv1D(E, E, 3, padding="same")], "'conv1d' \\(Conv1D\\) cannot"),
        ([L.MaxPool1D(1)], "MaxPool1D\\) cannot"),
        ([L.Concatenate(axis=1)], None),
    ],
)
def test_layers_that_mix_steps_are_refused(layers, message):
    if message is None:  # Concatenate on time: a layer on a list, refused by its own check here
        assert L.Concatenate(axis=1).stepwise_problem() is not None
        assert L.Concatenate(axis=-1).stepwise_problem() is None
        return
    model = nn.Sequential([L.Embedding(V, E), *layers, L.Dense(V, activation="softmax")])
    with pytest.raises(ArgumentError, match=message):
        nn.text.generate(model, [1, 2], 3)
    assert all(getattr(layer, "cache", None) is None for layer in model.layers)


def test_a_transformer_encoder_that_is_not_causal_is_refused():
    with pytest.raises(
        ArgumentError, match="'transformer_encoder' \\(TransformerEncoder\\) cannot: its layer 'attention' "
    ):
        nn.text.generate(transformer_model(causal=False), [1, 2], 3)


def test_other_models_are_refused():
    with pytest.raises(ArgumentError, match="input is not ids"):
        nn.text.generate(nn.Sequential([L.Dense(V, activation="softmax")], input_shape=(4,)), [1], 2)
    x = nn.Input(shape=(None,), dtype="int64")
    h = L.Embedding(V, E)(x)
    two = nn.Model(x, [L.Dense(V, activation="softmax")(h), L.Dense(V, activation="softmax")(h)])
    with pytest.raises(ArgumentError, match="1 inputs and 2 outputs"):
        nn.text.generate(two, [1], 2)
    sigmoid = nn.Sequential([L.Embedding(V, E), L.Dense(V, activation="sigmoid")])
    with pytest.raises(ArgumentError, match="softmax"):
        nn.text.generate(sigmoid, [1], 2)
    shared = L.MultiHeadAttention(E, H, causal=True)
    h = shared(shared(L.Embedding(V, E)(x)))
    with pytest.raises(ArgumentError, match="called at 2 places"):
        nn.text.generate(nn.Model(x, L.Dense(V, activation="softmax")(h)), [1], 2)
    with pytest.raises(ArgumentError, match="takes a neuronet model"):
        nn.text.generate("model", [1], 2)


@pytest.mark.parametrize("make", MODELS)
def test_the_cache_does_not_leak_into_forward_or_fit(make, float64):
    """A model that generated predicts, summarises, describes itself and trains exactly as its twin that did
    not."""
    data = np.random.default_rng(0).integers(0, V, (16, 12))
    targets = np.roll(data, -1, axis=1)
    twins = []
    for _ in range(2):
        nn.set_seed(1)  # (a model's generator, which shuffles its batches, is drawn when it is made)
        twins.append(MODELS[make]())
    used, twin = twins
    nn.text.generate(used, [1, 2, 3], 10, seed=0)
    assert all(getattr(layer, "cache", None) is None and getattr(layer, "position", None) is None
               for layer in used.graph.layers)  # fmt: skip
    np.testing.assert_array_equal(used.predict(data), twin.predict(data))
    assert used.summary(print_fn=lambda s: None) == twin.summary(print_fn=lambda s: None)
    nn.text.generate(used, [1, 2, 3], 10, seed=0)  # the shapes seen last stay those of whole samples
    assert used.summary(print_fn=lambda s: None) == twin.summary(print_fn=lambda s: None)
    assert used.get_config() == twin.get_config()
    histories = []
    for model in (used, twin):
        model.compile(loss="sparse_categorical_crossentropy", optimizer=nn.optimizers.Adam(0.01))
        histories.append(model.fit(data, targets, epochs=2, batch_size=8, verbose=0).history["loss"])
    assert histories[0] == histories[1]
    for a, b in zip(used.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_cache_is_off_after_an_error_and_refuses_training():
    model = graph_model()
    attention = next(layer for layer in model.graph.layers if isinstance(layer, L.MultiHeadAttention))
    with pytest.raises(ValueError, match="continues 1 cached sequences, but this call has 2"), cached(model):
        model.call(np.array([[1, 2]]))
        model.call(np.array([[3], [4]]))
    assert attention.cache is None
    with cached(model), pytest.raises(RuntimeError, match="use_cache\\(False\\) before training"):
        model.call(np.array([[1, 2]]), training=True)
    with cached(model):  # a sequence continued past max_length
        model.call(np.zeros((1, T - 1), dtype=np.int64))
        with pytest.raises(ValueError, match="reached 25"):
            model.call(np.zeros((1, 2), dtype=np.int64))
    np.testing.assert_allclose(model.predict(np.zeros((1, T), dtype=np.int64)).sum(axis=-1), 1, atol=1e-5)
