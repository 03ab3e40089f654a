"""The GAN step: a discriminator step, then a generator step, on each batch of real samples.

1. the discriminator step: D sees a batch of real samples (target 1, or
   1 - label_smoothing) and as many of G's (target 0), as one batch; only D's
   parameters move;
2. the generator step: G makes a fresh batch, D scores it against the target
   1, and the gradient of G's loss flows back through D into G (D's input
   gradient is G's output gradient); only G's parameters move.

The GAN itself (``gan.py``) holds the two networks, the loss and the latent
draws; this is how one batch trains them, run by the same loop as any model.
"""

from __future__ import annotations

from .base import Step


class GanStep(Step):
    """``gan.d_steps`` discriminator steps on the real batch, then one generator step."""

    def train_step(self, x, y=None) -> dict[str, float]:
        for _ in range(self.model.d_steps):
            d_loss = self.discriminator_step(x)
        return {"d_loss": d_loss, "g_loss": self.generator_step(len(x))}

    def discriminator_step(self, real) -> float:
        """D on real and generated samples as one batch; D's parameters take a step, G's do not."""
        gan = self.model
        d, n = gan.discriminator, len(real)
        real = d.ops.asarray(real)  # (a batch from the host)
        # G only generates here (its training-mode behaviour, dropout or batch statistics, as in its own step);
        # call rather than forward: no backward pass follows, so this pass is not one the next must answer
        fake = gan.generator.call(gan.latent(n), training=True)
        xp = gan.ops.xp
        samples = xp.concatenate([real, fake.astype(real.dtype, copy=False)])
        targets = xp.zeros((2 * n, 1), dtype=real.dtype)
        targets[:n] = 1.0 - gan.label_smoothing
        out = d.forward(samples, training=True)
        loss = gan.loss.forward(out, targets)
        d.zero_grad()
        d.backward(gan.loss.backward(out, targets), input_grad=False)
        update(d)
        return loss

    def generator_step(self, n: int) -> float:
        """G's samples scored by D against the target 1, the gradient back through D into G; G's parameters
        take a step, D's do not (the gradients D collects on the way are thrown away)."""
        gan = self.model
        g, d = gan.generator, gan.discriminator
        fake = g.forward(gan.latent(n), training=True)
        out = d.forward(fake, training=True)
        targets = gan.ops.xp.ones((n, 1), dtype=out.dtype)
        loss = gan.loss.forward(out, targets)
        g.zero_grad()
        d.zero_grad()
        g.backward(d.backward(gan.loss.backward(out, targets)), input_grad=False)
        update(g)
        return loss

    def reset_metrics(self) -> None:
        """(A GAN reports its two losses only.)"""

    def metric_results(self) -> dict[str, float]:
        return {}


def update(model) -> None:
    """The model's optimizer step on the gradients its backward pass left, and its penalties'."""
    model.add_regularization_gradients()
    model.apply_gradients()
