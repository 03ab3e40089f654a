"""Time series as supervised data: windows of the past paired with the values that follow them."""

from __future__ import annotations

import numpy as np

from .. import arrays, checks


def sliding_windows(series, lookback: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``lookback`` consecutive steps, and the ``horizon`` steps that follow it.

    For a series s of length T, window i is ``X[i] = s[i : i + lookback]`` and its target
    ``y[i] = s[i + lookback : i + lookback + horizon]``, for i = 0 .. T - lookback - horizon: each window
    is shifted one step from the last, as a forecaster sees the series go by. A 1-D series gives
    ``X`` (windows, lookback, 1), ready for a recurrent layer, and ``y`` (windows, horizon); a series
    of several features per step (T, features) gives ``X`` (windows, lookback, features) and ``y``
    (windows, horizon, features). Both are copies, in order of time: split them by time, not at random,
    or the test windows overlap the training ones.
    """
    s = arrays.as_float(series, "series")
    if s.ndim not in (1, 2):
        raise checks.ArgumentError(f"series must be 1-D (time,) or 2-D (time, features), got shape {s.shape}")
    arrays.require_finite(s, "series")
    lookback = checks.integer(lookback, "lookback", low=1)
    horizon = checks.integer(horizon, "horizon", low=1)
    count = len(s) - lookback - horizon + 1
    if count < 1:
        raise checks.ArgumentError(
            f"a series of {len(s)} steps has no window of lookback {lookback} + horizon {horizon}; "
            "use a longer series or a shorter lookback"
        )
    steps = s if s.ndim == 2 else s[:, None]
    windows = np.lib.stride_tricks.sliding_window_view(steps, lookback + horizon, axis=0)  # (count, F, L + H)
    windows = windows.transpose(0, 2, 1)
    x, y = windows[:, :lookback].copy(), windows[:, lookback:].copy()
    return x, (y[..., 0] if s.ndim == 1 else y)
