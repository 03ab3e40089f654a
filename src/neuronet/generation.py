"""Generation: a causal model writes a sequence a token at a time, each drawn from its prediction.

    ids = generate(model, [5, 12, 7], steps=100, temperature=0.8, top_k=10, seed=0)
    text = generate(model, "The ", steps=100, vocabulary=characters)     # character-level: text in, text out

A causal model's output at step t reads steps 0..t of its input alone, so its output at the last step is the
distribution of the next token. Running the whole sequence through it again for each new token would cost a
pass over the prefix per token. Instead the layers whose output reads earlier steps keep what they need of
them while :func:`cached` is on (causal attention its keys and values, PositionalEmbedding its position; a
position-wise layer needs nothing), and each new token runs through the model alone: one step.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from . import arrays, checks, settings
from .layers.base import Layer
from .layers.positional import PositionalEmbedding


@contextmanager
def cached(model):
    """Within it, each call of ``model`` continues the sequences of the calls before it (inference only):
    every layer's ``use_cache`` is on, and off again at the end, however the block ends, so the model then
    runs as before (the input shapes it has seen kept too: ``Model.shapes_kept``). An ArgumentError first where
    a layer cannot take a sequence a step at a time (one that mixes steps, an attention that is not causal;
    see ``Layer.stepwise_problem``)."""
    layers = model.graph.layers
    check_stepwise(model)
    with model.shapes_kept():
        try:
            for layer in layers:
                layer.use_cache(True)
            yield model
        finally:
            for layer in layers:
                layer.use_cache(False)


def check_stepwise(model) -> None:
    """An ArgumentError naming the first layer that cannot take a sequence a step at a time, or a layer with a
    cache called at several places in the graph (one cache cannot continue two sequences)."""
    graph = model.graph
    for layer in graph.layers:
        problem = layer.stepwise_problem()
        if problem is not None:
            raise checks.ArgumentError(
                f"generation runs the model a step at a time, and layer '{layer.name}' ({type(layer).__name__}) "
                f"cannot: {problem}. A causal model for generation is made of layers that work on each step "
                "alone (Embedding, Dense, LayerNormalization, activations, Dropout, Add), PositionalEmbedding and "
                "MultiHeadAttention(causal=True), or layers that hold only these"
            )
        calls = sum(1 for node in graph.nodes if node.layer is layer)
        if calls > 1 and not layer.positionwise:
            raise checks.ArgumentError(
                f"layer '{layer.name}' ({type(layer).__name__}) is called at {calls} places in the graph, and its "
                "cache of earlier steps can continue one of them only: use a layer per place for generation"
            )


def generate(
    model,
    prompt,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    vocabulary=None,
    return_probabilities: bool = False,
):
    """The ``prompt`` followed by ``steps`` tokens the causal ``model`` writes, one at a time.

    ``model``: one input of token ids (batch, time), one output per step, (batch, time, vocab): probabilities
    (a softmax last) or scores (logits: no activation last). ``prompt``: token ids, or a string with a
    character-level ``vocabulary`` (a string, or a list, of the tokens by id: ``vocabulary[i]`` is the
    character of id i); the result comes as the prompt did, ids (an int64 array) or a string.

    Each token is drawn from softmax(log p / temperature) over the ``top_k`` most likely tokens (all by
    default; a top_k above the vocabulary keeps them all): temperature 1 samples the model's distribution,
    a lower one sharpens it, temperature 0 takes the most likely token (argmax, the first of a tie), as does
    top_k=1. ``seed``: the draws repeat for one seed; None draws from neuronet's generator (``nn.set_seed``).

    The prompt runs through the model once, then each new token alone, the layers keeping what they need of
    the earlier steps (:func:`cached`). The model reads the prompt and every token but the last it writes,
    len(prompt) + max(steps, 1) - 1, which must fit a PositionalEmbedding's max_length. With
    ``return_probabilities``, also the model's distribution each token was drawn from (before temperature and
    top_k), (steps, vocab) float64.
    """
    ids, vocabulary = prompt_ids(prompt, vocabulary)
    steps = checks.integer(steps, "generate steps", low=0)
    temperature = checks.number(temperature, "generate temperature", low=0.0)
    if top_k is not None:
        top_k = checks.integer(top_k, "generate top_k", low=1)
    rng = settings.rng() if seed is None else np.random.default_rng(checks.integer(seed, "generate seed", low=0))
    check_model(model, len(ids) + max(steps, 1) - 1)  # (the prompt is read even for no new token)
    logits = model.graph.outputs[0].layer.output_activation() != "softmax"
    written, distributions = [], []
    with cached(model):
        scores = last_step(model, ids, logits)
        if vocabulary is not None and len(vocabulary) != len(scores):
            raise checks.ArgumentError(
                f"generate's vocabulary has {len(vocabulary)} characters, but the model chooses among {len(scores)} "
                "tokens: give the vocabulary the model was trained with"
            )
        for step in range(steps):
            distributions.append(np.exp(scores))
            written.append(choose(scores, temperature, top_k, rng))
            if step + 1 < steps:
                scores = last_step(model, np.array(written[-1:]), logits)
    out = np.concatenate([ids, np.array(written, dtype=np.int64)])
    if vocabulary is not None:
        out = "".join(vocabulary[i] for i in out)
    if return_probabilities:
        return out, np.array(distributions, dtype=np.float64).reshape(steps, len(scores))
    return out


def prompt_ids(prompt, vocabulary) -> tuple[np.ndarray, list | None]:
    """The prompt as int64 ids (at least one); the vocabulary as a list of characters where the prompt is a
    string (for turning ids back into text), else None."""
    if isinstance(prompt, str):
        if vocabulary is None:
            raise checks.ArgumentError(
                f"generate got the prompt {prompt[:40]!r} as text, but no vocabulary to turn it into ids: give "
                "vocabulary= (the characters by id, e.g. ''.join(sorted(set(training_text)))), or the prompt as ids"
            )
        vocabulary = characters(vocabulary)
        index = {c: i for i, c in enumerate(vocabulary)}
        unknown = sorted({c for c in prompt if c not in index})
        if unknown:
            raise checks.ArgumentError(
                f"generate's prompt holds characters the vocabulary lacks: {''.join(unknown)!r}; the model knows "
                f"only {''.join(vocabulary)!r}"
            )
        ids = np.array([index[c] for c in prompt], dtype=np.int64)
    else:
        ids = arrays.as_array(prompt, "generate prompt")
        if ids.ndim != 1:
            raise checks.ArgumentError(f"generate's prompt must be one sequence of token ids, got shape {ids.shape}")
        ids = checks.whole_numbers(ids, "generate prompt (token ids)", low=0)
        vocabulary = None
    if len(ids) == 0:
        raise checks.ArgumentError("generate's prompt is empty: give at least one token to continue")
    return ids, vocabulary


def characters(vocabulary) -> list[str]:
    """A character-level vocabulary (a string, or a sequence of single characters, by id) as a list."""
    tokens = list(vocabulary) if isinstance(vocabulary, str) or hasattr(vocabulary, "__iter__") else None
    if not tokens or not all(isinstance(t, str) and len(t) == 1 for t in tokens):
        raise checks.ArgumentError(
            f"generate's vocabulary must be the characters by id (a string such as 'abc', or a list of single "
            f"characters), got {vocabulary!r:.60}"
        )
    if len(set(tokens)) < len(tokens):
        raise checks.ArgumentError("generate's vocabulary holds a character twice: each needs an id of its own")
    return tokens


def check_model(model, length: int) -> None:
    """An ArgumentError unless ``model`` takes one input of token ids, gives one output, and has positions for
    sequences of ``length`` steps."""
    graph = getattr(model, "graph", None)
    if graph is None:
        raise checks.ArgumentError(f"generate takes a neuronet model, got {type(model).__name__}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise checks.ArgumentError(
            f"generate takes a model of one input (token ids) and one output (the next token's distribution at "
            f"each step); this one has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs"
        )
    if not model.takes_ids:
        raise checks.ArgumentError(
            "generate feeds the model token ids, but its input is not ids: begin it with an Embedding "
            "(or nn.Input(shape=(None,), dtype='int64'))"
        )
    last = graph.outputs[0].layer.output_activation()
    if last not in ("softmax", "linear", None):
        raise checks.ArgumentError(
            f"generate draws tokens from the model's output, which must be probabilities (a softmax last) or scores "
            f"(logits: no activation last), but layer '{graph.outputs[0].layer.name}' ends in {last!r}"
        )
    for layer in every_layer(graph.layers):
        if isinstance(layer, PositionalEmbedding) and length > layer.max_length:
            raise checks.ArgumentError(
                f"the model reads {length} tokens (the prompt and every token it writes but the last), beyond "
                f"layer '{layer.name}' (PositionalEmbedding) max_length={layer.max_length}: shorten the prompt or "
                "generate fewer steps"
            )


def every_layer(layers) -> list[Layer]:
    """The layers and, after each, the layers it holds, at any depth."""
    found = []
    for layer in layers:
        found += [layer, *every_layer(layer.sublayers().values())]
    return found


def last_step(model, ids: np.ndarray, logits: bool) -> np.ndarray:
    """The log-probabilities (vocab,) float64 of the token after ``ids``, from the model's output at the last
    step (a softmax of it where it gives ``logits``), while the cache is on."""
    out = model.call(ids[None, :], training=False)
    if getattr(out, "ndim", 0) != 3 or out.shape[:2] != (1, len(ids)):
        raise checks.ArgumentError(
            f"generate needs the model's output at every step, (batch, time, vocab), but for {len(ids)} tokens it "
            f"gave shape {tuple(getattr(out, 'shape', ()))}: end the model with a layer on each step "
            "(Dense(vocab, activation='softmax'))"
        )
    row = arrays.to_numpy(out[0, -1]).astype(np.float64)
    if logits:
        row -= row.max()
        return row - np.log(np.exp(row).sum())
    with np.errstate(divide="ignore"):  # a probability of 0 is a log of -inf: never drawn
        return np.log(row / row.sum())


def choose(scores: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One token id from the log-probabilities ``scores`` (vocab,): at temperature 0 the most likely (the first
    of a tie), else a draw from softmax(scores / temperature) over the ``top_k`` most likely (all if None)."""
    if temperature == 0.0:
        return int(np.argmax(scores))
    kept = np.argsort(-scores, kind="stable")[:top_k]  # most likely first; ties in id order
    z = (scores[kept] - scores[kept[0]]) / temperature  # the best at 0 first: finite for any temperature > 0
    weights = np.exp(z)
    return int(kept[rng.choice(len(kept), p=weights / weights.sum())])
