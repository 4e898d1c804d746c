"""LoRA adapters for the flow transformer: a few MB that move the bundled model toward new music.

Training wraps the model with PEFT (`add_lora`), the library adapter users know; the adapter
folder is PEFT's own format (adapter_config.json + adapter_model.safetensors, loadable with
`peft.PeftModel.from_pretrained`) plus `text2music_adapter.json`, which names the base model's
weights (sha256) the adapter was trained on, its data and its training.

Generation does not need PEFT: `merge_adapter` adds `strength * scaling * B @ A` to each adapted
weight, so an adapted model runs exactly as fast as the base (and importing PEFT, about 3 s, is
skipped). strength 0 is the base model, 1 the adapter as trained; values between blend them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from text2music.models.folders import (  # noqa: F401 (the adapter folder's names, read without torch)
    ADAPTER_CONFIG,
    ADAPTER_INFO,
    ADAPTER_WEIGHTS,
    MAX_STRENGTH,
    check_strength,
    read_adapter_config,
)
from text2music.utils import atomic_write_bytes, atomic_write_text

# the attention projections (self and cross) and both MLP layers of every block
LORA_TARGETS = r".*blocks\.\d+\.(self_attn|cross_attn)\.(q|kv|out)|.*blocks\.\d+\.mlp\.(0|2)"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16
    alpha: float = 16.0
    dropout: float = 0.0
    targets: str = LORA_TARGETS

    def __post_init__(self):
        if not 1 <= self.rank <= 256:
            raise ValueError(f"--rank must be between 1 and 256, got {self.rank}")
        if self.alpha <= 0:
            raise ValueError(f"--alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")


def weights_sha256(model_folder: str | Path) -> str:
    """sha256 of a model folder's model.safetensors: the identity of the weights an adapter fits."""
    h = hashlib.sha256()
    with (Path(model_folder) / "model.safetensors").open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def add_lora(model: nn.Module, settings: LoraSettings) -> nn.Module:
    """The model wrapped by PEFT with LoRA on `settings.targets`; only the LoRA weights train.
    The wrapper's `base_model.model` is `model` itself, changed in place."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=settings.targets)
    return get_peft_model(model, config)


def lora_state(peft_model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable (LoRA) tensors of a PEFT-wrapped model, by their names in that model."""
    return {k: v.detach().clone() for k, v in peft_model.named_parameters() if v.requires_grad}


def save_adapter(peft_model: nn.Module, folder: str | Path, info: dict, dtype: torch.dtype = torch.float16) -> None:
    """PEFT's adapter files (weights in `dtype`) plus text2music_adapter.json (`info`)."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    folder = Path(folder)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    config = peft_model.peft_config["default"].to_dict()
    config["target_modules"] = sorted(config["target_modules"]) if isinstance(config["target_modules"], set) else config["target_modules"]
    atomic_write_bytes(folder / ADAPTER_WEIGHTS, save(state, metadata={"format": "pt"}))
    atomic_write_text(folder / ADAPTER_CONFIG, json.dumps(config, indent=2, default=str) + "\n")
    atomic_write_text(folder / ADAPTER_INFO, json.dumps(info, indent=2) + "\n")


def read_adapter(folder: str | Path) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    """(PEFT config, text2music info, tensors) of an adapter folder; one-line errors naming it."""
    from safetensors.torch import load_file

    folder = Path(folder).expanduser()
    config, info = read_adapter_config(folder)
    try:
        tensors = load_file(str(folder / ADAPTER_WEIGHTS))
    except Exception as e:  # safetensors' errors do not name the file
        raise ValueError(f"{folder / ADAPTER_WEIGHTS} is not a readable safetensors file: {e}") from None
    return config, info, tensors


def lora_pairs(tensors: dict[str, torch.Tensor], where: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{module name in the base model: (A `(r, in)`, B `(out, r)`)} from PEFT's saved keys
    ("base_model.model.blocks.0.mlp.0.lora_A.weight")."""
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name = key.removeprefix("base_model.model.")
        for part in ("lora_A", "lora_B"):
            marker = f".{part}."
            if marker in name:
                pairs.setdefault(name.split(marker)[0], {})[part] = value
                break
        else:
            raise ValueError(f"{where}: unexpected tensor {key!r} (not a LoRA A or B weight)")
    broken = [m for m, ab in pairs.items() if set(ab) != {"lora_A", "lora_B"}]
    if broken:
        raise ValueError(f"{where}: {broken[0]} lacks its A or B weight")
    return {m: (ab["lora_A"], ab["lora_B"]) for m, ab in pairs.items()}


@torch.no_grad()
def merge_adapter(
    model: nn.Module, folder: str | Path, strength: float = 1.0, base_sha256: str | None = None, also_fits: tuple[str, ...] = ()
) -> dict:
    """Add the adapter in `folder` to `model`'s weights in place: W += strength * scaling * B @ A.
    With `base_sha256` (of the model's own weights file), refuse an adapter trained on other
    weights than those or `also_fits` (a distilled model's teacher: the student is the teacher's
    weights fine-tuned, and adapters of the teacher carry over, as LoRAs of a base model do to its
    distilled variants). Returns the adapter's info (text2music_adapter.json)."""
    strength = check_strength(strength)
    folder = Path(folder).expanduser()
    config, info, tensors = read_adapter(folder)
    trained_on = info.get("base_sha256")
    if base_sha256 and trained_on and trained_on not in (base_sha256, *also_fits):
        raise ValueError(
            f"{folder} was trained on other base weights ({info.get('base', '?')}, sha256 {trained_on[:12]}); "
            f"this model's are {base_sha256[:12]}: pass that model folder, or fine-tune again on this one"
        )
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    scaling = alpha / (r**0.5 if config.get("use_rslora") else r)
    modules = dict(model.named_modules())
    for name, (a, b) in lora_pairs(tensors, folder / ADAPTER_WEIGHTS).items():
        layer = modules.get(name)
        if layer is not None and not isinstance(layer, nn.Linear) and "quantized" in type(layer).__module__:
            raise ValueError(f"{name!r} of the model holds int8 weights: merge the adapter {folder} before quantising (models.quantize)")
        if not isinstance(layer, nn.Linear) or a.shape != (r, layer.in_features) or b.shape != (layer.out_features, r):
            raise ValueError(f"{folder}: the adapter does not fit this model at {name!r}")
        layer.weight += (strength * scaling) * (b.float() @ a.float()).to(layer.weight.dtype)
    return info
