"""The model registry and the checkpoint format: `model.safetensors` + `config.json`.

config.json = {"kind": ..., "model": {model config}, "mel": {MelConfig}, "text": {encoder name,
max_length, mode}}; `load_pretrained` rebuilds the model from it and loads the weights, no code
executed from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from text2music.features.mel import MelConfig
from text2music.models.flow_transformer import FlowTransformer, FlowTransformerConfig
from text2music.models.folders import read_config
from text2music.models.seed_lstm import MusicGenerationModel, SeedLSTMConfig
from text2music.models.seed_transformer import SeedTransformer, SeedTransformerConfig
from text2music.utils import atomic_path, atomic_write_text, dataclass_from_dict

MODELS: dict[str, tuple[type, type]] = {
    "seed_lstm": (SeedLSTMConfig, MusicGenerationModel),
    "seed_transformer": (SeedTransformerConfig, SeedTransformer),
    "flow_transformer": (FlowTransformerConfig, FlowTransformer),
}


def build_model(kind: str, **overrides) -> torch.nn.Module:
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(MODELS)}")
    config_cls, model_cls = MODELS[kind]
    return model_cls(dataclass_from_dict(config_cls, overrides, f"{kind} config"))


def model_kind(model: torch.nn.Module) -> str:
    for kind, (_, cls) in MODELS.items():
        if type(model) is cls:
            return kind
    raise ValueError(f"not a registered model: {type(model).__name__}")


def save_pretrained(
    out_dir: str | Path,
    model: torch.nn.Module,
    mel: MelConfig,
    text: dict,
    dtype: torch.dtype = torch.float32,
    extra: dict | None = None,
) -> None:
    """Inference weights (safetensors, `dtype`) and config.json, each written atomically."""
    out_dir = Path(out_dir)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    config = {"kind": model_kind(model), "model": dataclasses.asdict(model.cfg), "mel": mel.to_dict(), "text": text}
    config.update(extra or {})
    atomic_write_text(out_dir / "config.json", json.dumps(config, indent=2) + "\n")


def read_weights(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or a one-line error naming it when it is empty or truncated."""
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")
    try:
        return load_file(str(path), device=str(device))
    except Exception as e:  # safetensors' errors do not name the file
        raise ValueError(f"{path} is not a readable safetensors file (truncated or corrupt?): {e}") from None


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Load weights, or one line that says what does not match."""
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or extra or wrong:
        parts = [
            f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
            f"{len(extra)} unexpected (e.g. {extra[0]})" if extra else "",
            f"{len(wrong)} of another shape (e.g. {wrong[0]}, file vs config)" if wrong else "",
        ]
        raise ValueError(f"{where}: the weights do not fit config.json: {'; '.join(p for p in parts if p)}")
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise ValueError(f"{where}: {len(broken)} weight tensors hold NaN or infinite values (e.g. {broken[0]}): the file is damaged")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


def load_pretrained(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, MelConfig, dict]:
    """(model in eval mode, its MelConfig, the config.json dict); every failure a one-line error."""
    path = Path(path)
    config = read_config(path)
    where = path / "config.json"
    try:
        model = build_model(config["kind"], **config["model"])
        mel = MelConfig.from_dict(config["mel"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None
    load_state(model, read_weights(path / "model.safetensors", device), path / "model.safetensors")
    return model.to(device).eval(), mel, config
