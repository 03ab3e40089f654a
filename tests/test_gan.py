"""nn.GAN: each step moves only its own network, the generator's gradient is the generator loss's, a GAN
learns a distribution, and mistakes are clear errors."""

import numpy as np
import pytest

import neuronet as nn
from neuronet.gradcheck import numerical_gradient, relative_error

L = nn.layers


def networks(latent=3, features=2, out_activation="sigmoid"):
    generator = nn.Sequential([L.Dense(latent, 8, activation="tanh"), L.Dense(8, features)])
    discriminator = nn.Sequential([L.Dense(features, 8, activation="tanh"), L.Dense(8, 1, activation=out_activation)])
    return generator, discriminator


def gan_of(latent=3, features=2, optimizer=lambda: nn.optimizers.SGD(0.1), **kwargs):
    gan = nn.GAN(*networks(latent, features, None if kwargs.get("from_logits") else "sigmoid"), latent, **kwargs)
    gan.compile(optimizer(), optimizer())
    return gan


def weights(model):
    return [w.copy() for w in model.get_weights()]


def moved(before, model):
    return any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("options", [{}, {"loss": "lsgan"}, {"from_logits": True, "label_smoothing": 0.1}])
def test_each_step_moves_only_its_own_network(float64, options):
    nn.set_seed(0)
    gan = gan_of(**options)
    real = np.random.default_rng(0).standard_normal((16, 2))
    g, d = weights(gan.generator), weights(gan.discriminator)
    gan.discriminator_step(real)
    assert moved(d, gan.discriminator) and not moved(g, gan.generator)
    g, d = weights(gan.generator), weights(gan.discriminator)
    gan.generator_step(16)
    assert moved(g, gan.generator) and not moved(d, gan.discriminator)


def test_d_steps_discriminator_steps_per_generator_step(float64):
    gan = gan_of(d_steps=3)
    gan.train_step(np.random.default_rng(0).standard_normal((8, 2)))
    assert gan.discriminator.optimizer.iterations == 3 and gan.generator.optimizer.iterations == 1


@pytest.mark.parametrize("options", [{}, {"loss": "lsgan"}, {"from_logits": True}])
def test_the_generator_step_follows_the_gradient_of_the_generator_loss(float64, options):
    """With SGD at learning rate 1, the step is minus the gradient; compare it with finite differences of
    the generator loss (D(G(z)) against 1, for a fixed z) through the discriminator."""
    nn.set_seed(0)
    gan = gan_of(optimizer=lambda: nn.optimizers.SGD(1.0), **options)
    for p in gan.generator.parameters() + gan.discriminator.parameters():  # random, nonzero biases included
        p.data[...] = np.random.default_rng(p.data.size).uniform(-0.8, 0.8, p.shape)
    z = np.random.default_rng(1).standard_normal((5, 3))
    gan.latent = lambda n: z[:n]

    def generator_loss():
        out = gan.discriminator.forward(gan.generator.forward(z))
        return gan.loss.forward(out, np.ones((5, 1)))

    params = gan.generator.parameters()
    expected = [numerical_gradient(generator_loss, p.data) for p in params]
    before, loss_before = [p.data.copy() for p in params], generator_loss()
    assert gan.generator_step(5) == pytest.approx(loss_before, rel=1e-12)  # the loss before its step
    for p, was, grad in zip(params, before, expected):
        assert relative_error(was - p.data, grad) < 1e-6


def test_a_gan_learns_the_mean_and_spread_of_a_gaussian():
    nn.set_seed(0)
    real = np.random.default_rng(0).normal(4.0, 1.5, (2000, 1))
    generator = nn.Sequential([L.Dense(4, 16, activation="relu"), L.Dense(16, 1)])
    discriminator = nn.Sequential([L.Dense(1, 16, activation="leaky_relu"), L.Dense(16, 1, activation="sigmoid")])
    gan = nn.GAN(generator, discriminator, latent_dim=4)
    gan.compile(nn.optimizers.Adam(5e-4, beta_1=0.5), nn.optimizers.Adam(5e-4, beta_1=0.5))
    start = gan.sample(5000)
    history = gan.fit(real, epochs=200, batch_size=64, verbose=0)
    samples = gan.sample(5000)
    assert abs(start.mean() - 4.0) > 2.0  # it starts far from the data
    assert abs(samples.mean() - 4.0) < 0.3 and 1.0 < samples.std() < 2.0
    assert len(history.history["d_loss"]) == len(history.history["g_loss"]) == 200


def test_mistakes_are_clear_errors():
    gan = gan_of()
    real = np.zeros((8, 2))
    with pytest.raises(ValueError, match="generator makes samples of shape \\(2,\\).*have shape \\(3,\\)"):
        gan.fit(np.zeros((8, 3)), verbose=0)
    with pytest.raises(ValueError, match="latent_dim=5"):
        wrong = nn.GAN(*networks(3), latent_dim=5)
        wrong.compile()
        wrong.fit(real, verbose=0)
    generator, _ = networks()
    two = nn.GAN(generator, nn.Sequential([L.Dense(2, 2, activation="softmax")]), 3)
    two.compile()
    with pytest.raises(ValueError, match="one output per sample, \\(batch, 1\\); it gives \\(1, 2\\)"):
        two.fit(real, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        gan.fit(np.full((8, 2), np.nan), verbose=0)
    with pytest.raises(ValueError, match="without targets"):
        gan.check_data(real, np.zeros(8))
    with pytest.raises(RuntimeError, match="compile"):
        nn.GAN(*networks(), 3).fit(real)
    with pytest.raises(ValueError, match="an optimizer each"):
        shared = nn.optimizers.Adam()
        nn.GAN(*networks(), 3).compile(shared, shared)
    with pytest.raises(ValueError, match="two different models"):
        model = networks()[0]
        nn.GAN(model, model, 3)
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.GAN(*networks(), 3, loss="wasserstein")
