"""Weight precision for CPU inference: int8 dynamic quantisation of a generator's linear layers.

    model = quantize(model, "int8")     # nn.Linear -> int8 weights, activations quantised per call

"auto" is the precision a model folder's config.json names under "precision", else float32.

On an AVX2 CPU (no bf16 or VNNI units) an int8 pass of the bundled flow transformer takes about
0.57x the float32 time (BENCHMARKS.md), with a velocity 3% off the float32 one; bf16 is slower
than float32 there. The quantised model is for inference only (no gradients; adapters are merged before, `models.lora.merge_adapter`).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from text2music.models.folders import PRECISIONS


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def resolve_precision(precision: str, config: dict) -> str:
    """ "auto" -> the precision a model's config.json names (float32 when it names none); else `precision`."""
    if check_precision(precision) != "auto":
        return precision
    named = config.get("precision", "float32")
    if named not in PRECISIONS[1:]:
        raise ValueError(f"config.json: unknown precision {named!r}; choose one of {', '.join(PRECISIONS[1:])}")
    return named


def quantize(model: nn.Module, precision: str) -> nn.Module:
    """`model` at `precision`: itself for float32; for int8 the same model with its nn.Linear
    layers replaced in place by int8 ones (torch's dynamic quantisation, fbgemm kernels)."""
    if check_precision(precision) == "float32":
        return model
    if precision == "auto":
        raise ValueError('resolve "auto" with the model\'s config first (resolve_precision)')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
