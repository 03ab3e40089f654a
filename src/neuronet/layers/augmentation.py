"""Data augmentation as layers: random changes to training images, none at inference.

Placed at the front of a model (as Keras preprocessing layers are), each
layer transforms a training batch with fresh random draws from the library's
seeded generator and passes data through untouched when ``training`` is
False, so ``evaluate`` and ``predict`` see the real images. Every transform
is vectorised over the batch and the pixels.

Images are channels-last: (batch, height, width, channels).
"""

from __future__ import annotations

import numpy as np

from .. import checks
from .base import Layer


class Augmentation(Layer, abstract=True):
    """Base class: checks the image rank and skips the work at inference."""

    independent_samples = False  # draws random transforms

    def forward(self, x, training=False):
        if x.ndim != 4:
            raise self.shape_error("(batch, height, width, channels)", x)
        self.active = training
        return self.augment(x) if training else x

    def backward(self, dy):
        return self.augment_backward(dy) if self.active else dy

    def augment(self, x):
        raise NotImplementedError

    def augment_backward(self, dy):
        raise NotImplementedError


class RandomFlip(Augmentation):
    """Mirror each image with probability 1/2: left-right ("horizontal"), up-down ("vertical") or both.

    Forward: y_b = flip(x_b) where chosen, else x_b.   Backward: dx_b = flip(dy_b) likewise.
    """

    default_name = "random_flip"
    AXES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (2, 1)}

    def __init__(self, mode: str = "horizontal") -> None:
        super().__init__()
        self.mode = checks.choice(mode, "RandomFlip mode", self.AXES)

    def augment(self, x):
        self.flips = [self.ops.random(len(x)) < 0.5 for _ in self.AXES[self.mode]]
        return self._apply(x)

    def augment_backward(self, dy):
        return self._apply(dy)  # a flip is its own inverse (and its own transpose)

    def _apply(self, x):
        for axis, chosen in zip(self.AXES[self.mode], self.flips):
            x = self.ops.xp.where(chosen[:, None, None, None], self.ops.xp.flip(x, axis=axis), x)
        return x

    def get_config(self):
        return {"mode": self.mode}


class GaussianNoise(Augmentation):
    """Forward: y = x + e, e ~ N(0, stddev**2) element-wise.   Backward: dx = dy."""

    default_name = "gaussian_noise"
    keeps_mask = True
    positionwise = True  # (the identity in inference)

    def __init__(self, stddev: float) -> None:
        super().__init__()
        self.stddev = checks.number(stddev, "stddev", low=0.0)

    def forward(self, x, training=False):  # any shape, not only images
        self.active = training
        if not training:
            return x
        return x + self.ops.normal(x.shape, dtype=x.dtype) * x.dtype.type(self.stddev)

    def augment_backward(self, dy):
        return dy

    def get_config(self):
        return {"stddev": self.stddev}


class AffineAugmentation(Augmentation, abstract=True):
    """Resample each image through a random affine map of its pixel grid, with bilinear interpolation.

    Forward:  y[b, i, j] = sum over the 4 pixels around the source point s = A_b (i, j) + t_b
              of their bilinear weights times x[b, pixel]; points outside the image read 0.
    Backward: dx = the transpose: each dy[b, i, j] is scattered back to those 4 pixels with the same weights.
    Subclasses choose A_b and t_b (rotation, zoom, translation).
    """

    def transforms(self, n: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample matrices (n, 2, 2) and offsets (n, 2) mapping output to source coordinates."""
        raise NotImplementedError

    def augment(self, x):
        # the geometry is small and drawn on the host; the pixels it moves stay where x is
        n, h, w, ch = x.shape
        matrices, offsets = self.transforms(n, h, w)
        centre = np.array([(h - 1) / 2, (w - 1) / 2])
        grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1) - centre  # (h, w, 2)
        source = np.einsum("bkl,hwl->bhwk", matrices, grid) + (centre + offsets)[:, None, None, :]
        b = np.arange(n)[:, None, None]
        # each corner as (the flat pixel it reads, its weight), reused by the backward pass
        self.corners = [
            (self.ops.asarray(((b * h + r) * w + c).ravel()), self.ops.asarray(wt.reshape(-1, 1), x.dtype))
            for r, c, wt in _bilinear_corners(source, h, w)
        ]
        self.in_shape = x.shape
        pixels = x.reshape(-1, ch)
        return sum(wt * pixels[flat] for flat, wt in self.corners).reshape(x.shape)

    def augment_backward(self, dy):
        dx = self.ops.zeros(self.in_shape, dtype=dy.dtype)
        ch = self.in_shape[-1]
        channel = self.ops.xp.arange(ch)
        for flat, wt in self.corners:  # each output pixel's gradient back to the pixels it read: a scatter-add
            index = (flat[:, None] * ch + channel).ravel()
            self.ops.scatter_add(dx.reshape(-1), index, (wt * dy.reshape(-1, ch)).ravel())
        return dx


def _bilinear_corners(source, h, w):
    """The 4 neighbouring pixels of each source point and their weights (0 for pixels off the image)."""
    r0 = np.floor(source[..., 0]).astype(np.int64)
    c0 = np.floor(source[..., 1]).astype(np.int64)
    fr, fc = source[..., 0] - r0, source[..., 1] - c0
    corners = []
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        r, c = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        corners.append((np.clip(r, 0, h - 1), np.clip(c, 0, w - 1), np.where(inside, weight, 0.0)))
    return corners


def _uniform(rng: np.random.Generator, n: int, limit: float) -> np.ndarray:
    return rng.uniform(-limit, limit, n)


class RandomRotation(AffineAugmentation):
    """Rotate each image by a random angle in [-factor, factor] x 360 degrees about its centre."""

    default_name = "random_rotation"

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = checks.number(factor, "RandomRotation factor", low=0.0, high=1.0)

    def transforms(self, n, height, width):
        theta = _uniform(self.ops.rng, n, self.factor * 2 * np.pi)
        cos, sin = np.cos(theta), np.sin(theta)
        return np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1), np.zeros((n, 2))

    def get_config(self):
        return {"factor": self.factor}


class RandomZoom(AffineAugmentation):
    """Zoom each image in or out by a random factor in [1 - factor, 1 + factor] (height and width alike)."""

    default_name = "random_zoom"

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = checks.number(factor, "RandomZoom factor", low=0.0, high=1.0, high_open=True)

    def transforms(self, n, height, width):
        inverse_scale = 1.0 / (1.0 + _uniform(self.ops.rng, n, self.factor))
        return inverse_scale[:, None, None] * np.eye(2), np.zeros((n, 2))

    def get_config(self):
        return {"factor": self.factor}


class RandomTranslation(AffineAugmentation):
    """Shift each image by up to ``height_factor`` x height rows and ``width_factor`` x width columns."""

    default_name = "random_translation"

    def __init__(self, height_factor: float, width_factor: float | None = None) -> None:
        super().__init__()
        self.height_factor = checks.number(height_factor, "height_factor", low=0.0, high=1.0)
        width_factor = self.height_factor if width_factor is None else width_factor
        self.width_factor = checks.number(width_factor, "width_factor", low=0.0, high=1.0)

    def transforms(self, n, height, width):
        rng = self.ops.rng
        shift = np.stack(
            [_uniform(rng, n, self.height_factor * height), _uniform(rng, n, self.width_factor * width)], -1
        )
        return np.broadcast_to(np.eye(2), (n, 2, 2)), -shift

    def get_config(self):
        return {"height_factor": self.height_factor, "width_factor": self.width_factor}
