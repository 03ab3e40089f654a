"""The scalers: NaN and infinite values refused at fit, and features near float64's limit scaled without
overflow or warnings (issue 20, items 5 and 8)."""

import warnings

import numpy as np
import pytest

import neuronet as nn

SCALERS = [nn.data.StandardScaler, nn.data.MinMaxScaler]


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_values_are_refused_at_fit_naming_the_first(cls, bad):
    x = [[1.0, 2.0], [3.0, 4.0], [5.0, bad]]
    with pytest.raises(nn.checks.ArgumentError, match=rf"{cls.__name__}.fit's x holds 1 NaN or infinite .*x\[2, 1\]"):
        cls().fit(x)


@pytest.mark.parametrize("cls", SCALERS)
def test_one_feature_must_be_a_column_and_text_is_refused(cls):
    with pytest.raises(nn.checks.ArgumentError, match=r"\(samples, features\).*reshape\(-1, 1\)"):
        cls().fit([1.0, 2.0, 3.0])
    with pytest.raises(nn.checks.ArgumentError, match="numbers"):
        cls().fit([["a"], ["b"]])


@pytest.mark.parametrize("power", [996, 1020, 1022])
def test_huge_features_standardise_as_small_ones_do(power):
    """Values near 1e300 and 1.7e308: the statistics are those of the same data scaled down by a power of
    two (which is exact), and the standardised values equal, with no NumPy warning."""
    small = np.random.default_rng(0).uniform(-1.0, 1.0, (50, 3)) * [1.0, 0.5, 0.25]
    small[0] = [-1.0, 0.5, 0.25]  # the extremes of each column reach the top of float64 below
    huge = np.ldexp(small, power) * 0.9  # up to 1.6e308 for 2**1022
    reference = nn.data.StandardScaler().fit(small * 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = nn.data.StandardScaler().fit(huge)
        standardised = scaler.transform(huge)
        back = scaler.inverse_transform(standardised)
    np.testing.assert_allclose(scaler.shift, np.ldexp(reference.shift, power), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale, np.ldexp(reference.scale, power), rtol=1e-12)
    np.testing.assert_allclose(standardised, reference.transform(small * 0.9), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(standardised.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(standardised.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(back, huge, rtol=1e-12)


def test_values_of_both_signs_at_float64s_limit_transform_without_overflow():
    x = np.array([[1.7e308], [1.7e308], [-1.7e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nn.data.StandardScaler().fit_transform(x)
    np.testing.assert_allclose(out[:, 0], [2**-0.5, 2**-0.5, -(2**0.5)], rtol=1e-12)


def test_a_min_max_span_beyond_float64_is_refused_clearly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(nn.checks.ArgumentError, match=r"feature 1 spans -1\.7e\+308\.\.1\.7e\+308.*StandardScaler"):
            nn.data.MinMaxScaler().fit([[0.0, 1.7e308], [1.0, -1.7e308]])
    np.testing.assert_allclose(nn.data.MinMaxScaler().fit_transform([[8e307], [-8e307]]), [[1.0], [0.0]])
