"""The generators (flow transformer, the seed's LSTM and transformer), their registry and the
checkpoint format (`checkpoint`: `model.safetensors` + `config.json`, loaded without executing code),
the vocoders, LoRA adapters and int8 quantisation.

Names are imported on first use, so reading a model folder's config (`folders`) needs no torch.
"""

from importlib import import_module

_API = {
    name: "text2music.models.checkpoint"
    for name in ("MODELS", "build_model", "model_kind", "save_pretrained", "read_weights", "load_state", "load_pretrained")
}
_API["read_config"] = "text2music.models.folders"

__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'text2music.models' has no attribute {name!r}")
