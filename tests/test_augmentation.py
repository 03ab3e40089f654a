"""The augmentation layers' arguments: each checked where it is given, -0.0 taken as the 0.0 it equals."""

import math

import numpy as np
import pytest

import neuronet as nn

L = nn.layers


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.RandomZoom(-0.0),
        lambda: L.RandomRotation(-0.0),
        lambda: L.RandomTranslation(-0.0),
        lambda: L.RandomTranslation(0.0, -0.0),
        lambda: L.RandomTranslation(-0.0, 0.0),
    ],
)
def test_minus_zero_is_zero_no_change_at_all(make):
    layer = make()
    x = np.random.default_rng(0).random((3, 5, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(layer.forward(x, training=True), x, atol=1e-6)  # a zero range: the identity
    assert all(math.copysign(1.0, v) == 1.0 for v in layer.get_config().values())


def test_minus_zero_noise_is_zero_noise():
    assert math.copysign(1.0, L.GaussianNoise(-0.0).stddev) == 1.0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.RandomFlip("diagonal"), "RandomFlip mode must be one of"),
        (lambda: L.RandomFlip(None), "RandomFlip mode must be one of"),
        (lambda: L.GaussianNoise(-0.1), "stddev must be >= 0"),
        (lambda: L.GaussianNoise("0.1"), "stddev must be a number"),
        (lambda: L.RandomRotation(1.5), r"RandomRotation factor must be in \[0, 1\]"),
        (lambda: L.RandomRotation(math.nan), "RandomRotation factor must be a finite number"),
        (lambda: L.RandomZoom(1.0), r"RandomZoom factor must be in \[0, 1\)"),
        (lambda: L.RandomZoom(-1e-9), r"RandomZoom factor must be in \[0, 1\)"),
        (lambda: L.RandomTranslation(None), "height_factor must be a number"),
        (lambda: L.RandomTranslation(0.1, -0.5), r"width_factor must be in \[0, 1\]"),
        (lambda: L.RandomTranslation(0.1, True), "width_factor must be a number"),
    ],
)
def test_every_argument_is_checked_where_it_is_given(make, match):
    with pytest.raises(nn.checks.ArgumentError, match=match):
        make()
