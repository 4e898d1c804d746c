"""Frechet Audio Distance: the Frechet distance between two Gaussians fitted to embeddings.

    FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))     (Heusel et al. 2017; Kilgour et al. 2019)

Embeddings are those of an external pretrained model (here musicnn's penultimate layer, one
vector per 3-s patch), so the number is not defined by anything trained on this project.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def gaussian(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(n, dim)` embeddings -> mean `(dim,)`, covariance `(dim, dim)`."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 embeddings of shape (n, dim), got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6) -> float:
    diff = mu_a - mu_b
    with warnings.catch_warnings():  # fewer embeddings than dimensions make the product singular: expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as in the reference FID code
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = covmean.real
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))


def frechet_audio_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FAD between two sets of embeddings `(n_a, dim)` and `(n_b, dim)`."""
    return frechet_distance(*gaussian(a), *gaussian(b))
