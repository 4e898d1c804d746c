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


IMAG_TOLERANCE = 1e-3  # largest |imaginary part| of sqrt(S_a S_b)'s diagonal taken as round-off (as pytorch-fid)


def _sqrtm(product: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # fewer embeddings than dimensions make the product singular: expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(product)


def _imaginary_part(covmean: np.ndarray) -> float:
    """Largest |imaginary part| on the diagonal (what reaches the trace), relative to the size of
    the real diagonal when that is above 1; inf when the root is not finite."""
    if not np.isfinite(covmean).all():
        return float("inf")
    if not np.iscomplexobj(covmean):
        return 0.0
    diag = np.diagonal(covmean)
    return float(np.abs(diag.imag).max() / max(1.0, np.abs(diag.real).mean()))


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6) -> float:
    """The Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b).

    sqrt(S_a S_b) of two covariances is real up to round-off. When it is not finite or carries
    more than round-off in imaginary parts (a near-singular product), it is taken again with `eps`
    added to both diagonals, as the reference FID implementations do; if the imaginary part is
    still not negligible, ValueError (the inputs are not covariances, or far too few embeddings)."""
    diff = mu_a - mu_b
    covmean = _sqrtm(cov_a @ cov_b)
    if _imaginary_part(covmean) > IMAG_TOLERANCE:
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = _sqrtm((cov_a + offset) @ (cov_b + offset))
        imaginary = _imaginary_part(covmean)
        if imaginary > IMAG_TOLERANCE:
            raise ValueError(
                f"Frechet distance: the square root of the covariance product has an imaginary part of {imaginary:.3g} "
                f"(relative; tolerance {IMAG_TOLERANCE:g}) even with {eps:g} added to the diagonals: "
                "the covariances are not positive semi-definite, or there are far too few embeddings"
            )
    covmean = covmean.real
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))


def frechet_audio_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FAD between two sets of embeddings `(n_a, dim)` and `(n_b, dim)`."""
    return frechet_distance(*gaussian(a), *gaussian(b))
