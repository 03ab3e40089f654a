"""Generative adversarial networks: a generator and a discriminator trained against each other.

The generator G turns random latent vectors z into samples; the discriminator
D gives the probability that a sample is real. Each training step
(``steps/gan.py``, run by the same loop as any model, ``training.py``):

1. the discriminator step: D sees a batch of real samples (target 1) and as
   many of G's (target 0), as one batch; only D's parameters move;
2. the generator step: G makes a fresh batch, D scores it, and the gradient
   of G's loss flows back through D, into G (D's input gradient is G's
   output gradient); only G's parameters move.

G's loss is the non-saturating one (Goodfellow et al. 2014): it maximises
log D(G(z)) rather than minimising log(1 - D(G(z))), whose gradient vanishes
exactly when D wins, early in training. ``loss="lsgan"`` uses least squares
instead (Mao et al. 2017: D's outputs pulled to 1 and 0, G's to 1);
``label_smoothing`` gives real samples the target 1 - e (one-sided, Salimans
et al. 2016); ``d_steps`` discriminator steps are taken per generator step.
"""

from __future__ import annotations

import numpy as np

from . import checks, losses, optimizers, process, steps, training
from .callbacks import Callback
from .data.dataset import is_dataset
from .model import Model
from .model_file import DESCRIPTION_ERRORS, arrays_to_save, from_spec, restore, spec
from .model_file import description as description_of
from .ops import for_device, get_ops
from .optimizers import OPTIMIZERS
from .saving import ModelFileError, model_path, read_model_file, write_model_file
from .sequential import Sequential

NETWORKS = ("generator", "discriminator")  # also the prefixes of their weights in a GAN file


class GAN:
    """Two models of one input and one output each (a Sequential, or a graph model, ``nn.Model``):
    ``generator`` (batch, latent_dim) -> a sample, ``discriminator`` a sample -> (batch, 1), the probability
    that it is real (a sigmoid; or a score, with ``from_logits=True``)."""

    def __init__(
        self,
        generator: Model,
        discriminator: Model,
        latent_dim: int,
        loss: str = "bce",
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        d_steps: int = 1,
    ) -> None:
        for model, name in ((generator, "generator"), (discriminator, "discriminator")):
            if not isinstance(model, Model):
                raise checks.ArgumentError(
                    f"the {name} must be a neuronet model (nn.Sequential or nn.Model), got {type(model).__name__}"
                )
            if model.several_inputs or model.several_outputs:
                raise checks.ArgumentError(
                    f"the {name} must be a model of one input and one output, nn.Model(inputs=x, outputs=y); "
                    "it was given lists"
                )
        if generator is discriminator:
            raise checks.ArgumentError("the generator and the discriminator must be two different models")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = checks.integer(latent_dim, "latent_dim", low=1)
        self.loss_name = checks.choice(loss, "loss", ("bce", "lsgan"))
        self.from_logits = checks.flag(from_logits, "from_logits")
        if self.loss_name == "lsgan" and self.from_logits:
            raise checks.ArgumentError('from_logits is for loss="bce"; least squares compares the outputs as they are')
        self.label_smoothing = checks.number(label_smoothing, "label_smoothing", low=0.0, high=1.0, high_open=True)
        self.d_steps = checks.integer(d_steps, "d_steps", low=1)
        self.loss = losses.MeanSquaredError() if loss == "lsgan" else losses.BinaryCrossentropy(self.from_logits)
        self.ops = get_ops().spawn()  # the latent draws and the shuffling, seeded from nn.set_seed
        self.stop_training = False
        self.compiled = False

    def compile(self, generator_optimizer="adam", discriminator_optimizer="adam") -> None:
        """Each model's optimizer (a name or an Optimizer; two objects, since each keeps its own state)."""
        g, d = optimizers.get(generator_optimizer), optimizers.get(discriminator_optimizer)
        if g is d:
            raise checks.ArgumentError("give the generator and the discriminator an optimizer each, not one object")
        self.generator.optimizer, self.discriminator.optimizer = g, d
        self.compiled = True

    def to(self, device) -> GAN:
        """Move both networks, and the latent draws, to ``device`` ("gpu" or "cpu"); returns the GAN."""
        self.generator.to(device)
        self.discriminator.to(device)
        self.ops = for_device(device, like=self.ops)
        return self

    # -- one training step --------------------------------------------------------------------------
    def latent(self, n: int):
        """n latent vectors, standard normal, from the GAN's seeded generator."""
        return self.ops.normal((n, self.latent_dim), dtype=self.generator.dtype)

    def local_step(self) -> steps.GanStep:
        """The GAN's step (``steps/gan.py``): ``d_steps`` discriminator steps, then a generator step."""
        return steps.GanStep(self)

    def train_step(self, x, y=None) -> dict[str, float]:
        """``d_steps`` discriminator steps on the real batch ``x``, then one generator step; the two losses."""
        return self.local_step().train_step(x)

    def discriminator_step(self, real) -> float:
        """D on ``real`` and as many generated samples; only D's parameters move (``GanStep``)."""
        return self.local_step().discriminator_step(real)

    def generator_step(self, n: int) -> float:
        """G's ``n`` samples scored by D against the target 1; only G's parameters move (``GanStep``)."""
        return self.local_step().generator_step(n)

    # -- the loop ------------------------------------------------------------------------------------
    def fit(self, x, epochs: int = 1, batch_size: int = 32, callbacks: list[Callback] | None = None, verbose=1):
        """Train on the real samples ``x`` for ``epochs`` passes in shuffled batches; the History holds
        ``d_loss`` and ``g_loss`` per epoch."""
        if is_dataset(x):
            raise checks.ArgumentError(
                f"GAN.fit takes the real samples as an array, not a dataset ({type(x).__name__}): for a file larger "
                "than memory, pass np.load(path, mmap_mode='r')"
            )
        return training.fit(self, x, None, epochs, batch_size, None, 0.0, True, callbacks, verbose)

    def check_data(self, x, y=None, name="X", y_name="y"):
        """The real samples checked, and the two models checked against them and against latent_dim."""
        if not self.compiled:
            raise RuntimeError("call gan.compile(generator_optimizer=..., discriminator_optimizer=...) before fit")
        if y is not None:
            raise checks.ArgumentError("a GAN learns from samples alone: pass fit(X), without targets")
        x = self.discriminator.check_x(x, name)
        self.check_networks(tuple(x.shape[1:]), name)
        return x, None

    def check_networks(self, sample_shape: tuple | None = None, name: str = "X") -> tuple:
        """One latent vector through G and its sample through D: G must take latent_dim inputs and make
        samples of ``sample_shape`` (the data's, where given), D must give one output per sample.
        Returns the shape of one sample."""
        try:
            sample = self.generator.call(self.ops.zeros((1, self.latent_dim), self.generator.dtype), False)
        except ValueError as exc:
            raise ValueError(
                f"the generator does not take latent vectors of latent_dim={self.latent_dim}: {exc}"
            ) from None
        if sample_shape is not None and tuple(sample.shape[1:]) != sample_shape:
            raise ValueError(
                f"the generator makes samples of shape {tuple(sample.shape[1:])}, but {name}'s samples have shape "
                f"{sample_shape}: its last layer must give one sample of the data's shape"
            )
        try:
            score = self.discriminator.call(sample, training=False)
        except ValueError as exc:
            raise ValueError(f"the discriminator does not take the generator's samples: {exc}") from None
        if tuple(score.shape) != (1, 1):
            raise ValueError(
                f"the discriminator must end in one output per sample, (batch, 1); it gives {tuple(score.shape)}"
            )
        return tuple(sample.shape[1:])

    def min_batch(self) -> int:
        return max(self.generator.min_batch(), self.discriminator.min_batch())

    def finite(self) -> bool:
        return self.generator.finite() and self.discriminator.finite()

    # -- using it -----------------------------------------------------------------------------------
    def sample(self, n: int, batch_size: int = 256) -> np.ndarray:
        """The generator's outputs for ``n`` random latent vectors, as a NumPy array."""
        n = checks.integer(n, "n", low=1)
        return training.predict(self.generator, self.latent(n), checks.integer(batch_size, "batch_size", low=1))

    # -- saving -------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "latent_dim": self.latent_dim,
            "loss": self.loss_name,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "d_steps": self.d_steps,
        }

    def save(self, path) -> None:
        """Both networks in one model file, their weights under "generator." and "discriminator.", with the
        GAN's settings and, once compiled, its optimizers' settings (not their state)."""
        path = model_path(path)  # on every rank, so that all refuse alike
        # both input shapes on file, so that a load checks each network's layers on them before use
        inputs = {"generator": (self.latent_dim,), "discriminator": self.check_networks()}
        description, arrays = {"gan": self.get_config()}, {}
        for name, model in self._networks():
            description[name] = description_of(model)
            if isinstance(model, Sequential):  # (a graph model's file holds its nn.Input's shape)
                description[name]["model"]["input_shape"] = list(inputs[name])
            arrays |= {f"{name}.{key}": array for key, array in arrays_to_save(model, path).items()}
        if self.compiled:
            description["optimizers"] = {name: spec(model.optimizer) for name, model in self._networks()}
        if process.is_writer():
            write_model_file(path, description, arrays)

    def _networks(self):
        return zip(NETWORKS, (self.generator, self.discriminator), strict=True)


def load_gan(path) -> GAN:
    """A GAN saved by :meth:`GAN.save`, compiled with the saved optimizers' settings if it was compiled.

    A damaged, foreign or hostile file raises ModelFileError, as :func:`nn.load_model` does.
    """
    path = checks.file_path(path, "path")
    description, tensors = read_model_file(path)
    config = description.get("gan")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path!r} holds one model, not a GAN: load it with nn.load_model")
    stray = sorted(key for key in tensors if key.split(".", 1)[0] not in NETWORKS)
    if stray:
        raise ModelFileError(f"{path!r}: tensors {stray[:3]} belong to neither network of the GAN")
    networks = []
    for name in NETWORKS:
        own = {key[len(name) + 1 :]: t for key, t in tensors.items() if key.startswith(name + ".")}
        networks.append(restore(description.get(name), own, path, Sequential, Model))
    try:
        gan = GAN(*networks, **config)
        inputs = [shape_on_file(model) for model in networks]
        if inputs[0] != (gan.latent_dim,):
            raise ValueError(f"latent_dim is {gan.latent_dim}, but the generator's input shape is {inputs[0]}")
        if inputs[1] is None or None in inputs[1]:  # then the discriminator's layers were not checked on a sample
            raise ValueError("the discriminator's input shape is not on file")
        if inputs[1] != gan.check_networks():
            raise ValueError(f"the discriminator's input shape {inputs[1]} is not the generator's samples'")
        chosen = description.get("optimizers")
        if chosen is not None:
            if not isinstance(chosen, dict):
                raise ValueError(f"the optimizers must be a JSON object, got {type(chosen).__name__}")
            gan.compile(*(from_spec(OPTIMIZERS, chosen.get(name), f"the {name}'s optimizer") for name in NETWORKS))
    except DESCRIPTION_ERRORS as exc:
        raise ModelFileError(f"{path!r} has a GAN description this neuronet cannot build: {exc}") from None
    return gan


def shape_on_file(model) -> tuple | None:
    """One sample's shape as a loaded network's file gives it (and its layers were checked on): a Sequential's
    ``input_shape`` (None where the file has none), a graph model's nn.Input."""
    shape = model.input_shape if isinstance(model, Sequential) else model.known_input_shape()
    return None if shape is None else tuple(shape[1:])


__all__ = ["GAN", "load_gan"]
