"""Intervals for paired comparisons of two systems on the same clips."""

from __future__ import annotations

import numpy as np


def paired_interval(diff, draws: int = 2000, seed: int = 0) -> list[float]:
    """The 95% bootstrap interval of the mean of per-clip differences `diff` (clips drawn with
    replacement, `draws` times), rounded to 3 decimals."""
    diff = np.asarray(diff, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (draws, len(diff)))].mean(axis=1)
    return [round(float(q), 3) for q in np.quantile(means, [0.025, 0.975])]
