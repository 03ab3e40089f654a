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


def graph_networks(latent=3, features=2):
    """A residual generator (a block whose Dense is called twice) and a discriminator of two branches."""
    z = nn.Input(shape=(latent,))
    h = L.Dense(8, activation="tanh")(z)
    block = L.Dense(8, activation="tanh")
    generator = nn.Model(z, L.Dense(features)(L.Add()([h, block(block(h))])))
    x = nn.Input(shape=(features,))
    both = L.Concatenate()([L.Dense(6, activation="tanh")(x), L.Dense(2, activation="relu")(x)])
    return generator, nn.Model(x, L.Dense(1, activation="sigmoid")(both))


@pytest.mark.parametrize("graphs", ["generator", "both"])
def test_graph_networks_train_save_load_and_sample_the_same(tmp_path, graphs):
    nn.set_seed(0)
    generator, discriminator = graph_networks()
    gan = nn.GAN(generator, discriminator if graphs == "both" else networks()[1], latent_dim=3)
    gan.compile(nn.optimizers.Adam(1e-3), nn.optimizers.Adam(1e-3))
    g, d = weights(gan.generator), weights(gan.discriminator)
    history = gan.fit(np.random.default_rng(0).normal(2.0, 1.0, (64, 2)), epochs=2, batch_size=16, verbose=0)
    assert len(history.history["g_loss"]) == 2 and moved(g, gan.generator) and moved(d, gan.discriminator)
    gan.save(tmp_path / "gan.nnet")
    loaded = nn.load_gan(tmp_path / "gan.nnet")
    assert type(loaded.generator) is nn.Model and type(loaded.discriminator) is type(gan.discriminator)
    assert len(loaded.generator.layers) == 4  # the shared Dense once
    for a, b in ((gan.generator, loaded.generator), (gan.discriminator, loaded.discriminator)):
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    loaded.ops.rng.bit_generator.state = gan.ops.rng.bit_generator.state  # the same latent draws
    np.testing.assert_array_equal(loaded.sample(10), gan.sample(10))
    loaded.fit(np.zeros((8, 2)), epochs=1, batch_size=8, verbose=0)  # it trains on as it was compiled


def test_a_network_of_several_inputs_or_outputs_is_refused():
    z = nn.Input(shape=(3,))
    two_heads = nn.Model(z, [L.Dense(2)(z), L.Dense(2)(z)])
    with pytest.raises(ValueError, match="the generator must be a model of one input and one output"):
        nn.GAN(two_heads, networks()[1], 3)
    with pytest.raises(ValueError, match=r"the discriminator must be a neuronet model \(nn.Sequential or nn.Model\)"):
        nn.GAN(networks()[0], "discriminator.nnet", 3)


# -- one file for both networks --------------------------------------------------------------------
def test_save_and_load_keep_both_networks_settings_and_optimizers(tmp_path):
    nn.set_seed(0)
    gan = gan_of(optimizer=lambda: nn.optimizers.Adam(3e-4, beta_1=0.5), label_smoothing=0.1, d_steps=2)
    gan.fit(np.random.default_rng(0).standard_normal((32, 2)), epochs=2, batch_size=8, verbose=0)
    gan.save(tmp_path / "gan.nnet")
    loaded = nn.load_gan(tmp_path / "gan.nnet")
    z = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    for a, b in ((gan.generator, loaded.generator), (gan.discriminator, loaded.discriminator)):
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    np.testing.assert_array_equal(loaded.generator.predict(z), gan.generator.predict(z))
    assert loaded.get_config() == gan.get_config()
    assert loaded.generator.optimizer.get_config() == gan.generator.optimizer.get_config()
    assert loaded.discriminator.optimizer.beta_1 == 0.5
    loaded.fit(np.zeros((8, 2)), epochs=1, batch_size=8, verbose=0)  # it trains on as it was compiled


def test_gan_files_and_model_files_are_not_confused(tmp_path):
    gan = gan_of()
    gan.save(tmp_path / "gan.nnet")
    gan.generator.save(tmp_path / "g.nnet")
    with pytest.raises(nn.ModelFileError, match="load it with nn.load_gan"):
        nn.load_model(tmp_path / "gan.nnet")
    with pytest.raises(nn.ModelFileError, match="not a GAN: load it with nn.load_model"):
        nn.load_gan(tmp_path / "g.nnet")


def rewritten(tmp_path, change):
    """A saved GAN's file with its description and tensors changed by ``change``, checksums made anew."""
    gan_of().save(tmp_path / "gan.nnet")
    description, tensors = nn.saving.read_model_file(tmp_path / "gan.nnet")
    for key in ("format", "format_version", "checksums"):
        del description[key]
    change(description, tensors)
    nn.saving.write_model_file(tmp_path / "bad.nnet", description, tensors)
    return tmp_path / "bad.nnet"


def _set(path, value):
    def change(description, tensors):
        *keys, last = path
        target = description
        for key in keys:
            target = target[key]
        target[last] = value

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (_set(("gan", "latent_dim"), 4), "latent_dim is 4, but the generator's input shape is \\(3,\\)"),
        (_set(("gan", "d_steps"), 0), "d_steps must be >= 1"),
        (_set(("gan", "bogus"), 1), "bogus"),
        (_set(("gan", "loss"), "wasserstein"), "loss must be one of"),
        (_set(("discriminator", "model", "input_shape"), None), "input shape is not on file"),
        (_set(("discriminator", "model", "input_shape"), [3]), "layers do not fit together"),
        (_set(("generator",), [1, 2]), "cannot build"),
        (_set(("optimizers", "generator"), {"class": "Adam", "config": {"learning_rate": -1}}), "learning_rate"),
        (_set(("optimizers",), "adam"), "optimizers must be a JSON object"),
        (lambda d, t: t.update({"critic.w": np.zeros(1, np.float32)}), "belong to neither network"),
        (lambda d, t: t.pop("discriminator.1.dense_1.biases"), "biases"),
        (lambda d, t: d["generator"]["model"].update(input_shape=[60000, 60000]), "values in a layer"),
    ],
)
def test_damaged_or_hostile_gan_files_are_refused(tmp_path, change, match):
    with pytest.raises(nn.ModelFileError, match=match):
        nn.load_gan(rewritten(tmp_path, change))


# -- watching it train ----------------------------------------------------------------------------
def test_sample_grid_writes_a_png_every_n_epochs_and_leaves_training_as_it_was(tmp_path):
    pytest.importorskip("matplotlib")
    real = np.random.default_rng(0).uniform(-1, 1, (32, 16))
    histories = []
    for callbacks in ([], [nn.callbacks.SampleGrid(tmp_path / "grid_{epoch:02d}.png", every=2, n=6, cols=3)]):
        nn.set_seed(0)
        gan = gan_of(latent=3, features=16)
        histories.append(gan.fit(real, epochs=5, batch_size=8, callbacks=callbacks, verbose=0).history)
    grid = callbacks[0]
    assert grid.paths == [str(tmp_path / f"grid_{e:02d}.png") for e in (2, 4, 5)]
    for path in grid.paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert histories[0] == histories[1]  # its latent vectors are its own draws, not the GAN's


def test_sample_grid_is_for_gans():
    with pytest.raises(ValueError, match="SampleGrid draws a GAN's samples; it was given a Sequential"):
        model = networks()[1]
        model.compile(loss="binary_crossentropy", optimizer="sgd")
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[nn.callbacks.SampleGrid("x.png")], verbose=0)
