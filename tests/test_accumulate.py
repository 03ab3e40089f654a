"""fit(..., accumulate=k): k batches of b give exactly the updates of batches of k * b (float64, SGD and Adam,
shuffled or not, with the epoch's last shorter group), with sample weights and penalties too; refusals."""

import numpy as np
import pytest

import neuronet as nn

L = nn.layers


def trained(optimizer, batch_size, accumulate=1, n=28, shuffle=True, **kwargs):
    nn.set_seed(0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        [L.Dense(4, 6, activation="tanh", weight_regularizer_l2=0.01), L.Dense(6, 3, activation="softmax")]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    for p in model.parameters():
        p.data[:] = rng.standard_normal(p.data.shape) * 0.5
    x, y = rng.standard_normal((n, 4)), rng.integers(0, 3, n)
    history = model.fit(
        x, y, epochs=3, batch_size=batch_size, shuffle=shuffle, verbose=0, accumulate=accumulate, **kwargs
    )
    return [p.data.copy() for p in model.parameters()], history


@pytest.mark.parametrize("optimizer", [lambda: nn.optimizers.SGD(0.1, momentum=0.9), lambda: nn.optimizers.Adam(0.01)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_k_batches_of_b_are_one_batch_of_k_times_b(float64, optimizer, shuffle):
    # 28 samples: batches of 4 in groups of 3 (12, 12 and a last group of one batch, 4) against batches of 12
    big, _ = trained(optimizer(), 12, shuffle=shuffle)
    small, _ = trained(optimizer(), 4, accumulate=3, shuffle=shuffle)
    for a, b in zip(small, big):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    plain, _ = trained(optimizer(), 4, shuffle=shuffle)
    assert not all(np.allclose(a, b) for a, b in zip(plain, big))  # (batches of 4 alone do differ)


def test_accumulation_weights_the_samples_alike(float64):
    w = np.random.default_rng(5).uniform(0.0, 2.0, 28)
    big, _ = trained(nn.optimizers.Adam(0.01), 12, sample_weight=w)
    small, _ = trained(nn.optimizers.Adam(0.01), 4, accumulate=3, sample_weight=w)
    for a, b in zip(small, big):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_accumulate_is_checked():
    with pytest.raises(ValueError, match="accumulate must be >= 1"):
        trained("sgd", 4, accumulate=0)

    class Own(nn.Sequential):
        def train_step(self, x, y):
            return super().train_step(x, y)

    own = Own([L.Dense(4, 3, activation="softmax")])
    own.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match="Own's own training step"):
        own.fit(np.zeros((8, 4)), np.zeros(8, int), accumulate=2, verbose=0)


def test_accumulation_over_the_thread_split(float64):
    def run(batch_size, accumulate):
        nn.set_seed(0)
        rng = np.random.default_rng(0)
        model = nn.Sequential([L.Conv2D(1, 2, 3, padding="same", activation="tanh"), L.Flatten(), L.Dense(128, 3)])
        model.compile(loss=nn.losses.CategoricalCrossentropy(from_logits=True), optimizer=nn.optimizers.Adam(0.01))
        assert type(model.local_step()) is nn.steps.ThreadSplitStep
        x, y = rng.standard_normal((384, 8, 8, 1)), np.eye(3)[rng.integers(0, 3, 384)]
        nn.set_threads(2)
        try:
            model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, accumulate=accumulate)
        finally:
            nn.set_threads(None)
        return [p.data.copy() for p in model.parameters()]

    for a, b in zip(run(128, 3), run(384, 1)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
