"""The folders a generation loads, read without torch: a model folder's config.json, a vocoder
spec, an adapter folder's config, a precision name. A bad one is refused in a fraction of a second,
before torch or any weights load (`checkpoint`, `vocoder`, `lora` and `quantize` load them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PRECISIONS = ("auto", "float32", "int8")
BUNDLED_VOCOS_DIR = Path(__file__).resolve().parents[1] / "assets" / "vocos"
PACKAGED_VOCODER_NAMES = ("vocos", "vocos-fullband", "vocos-fullband-gan", "vocos-fullband-branch")
BUNDLED_VOCODERS = {name: BUNDLED_VOCOS_DIR.with_name(name) for name in PACKAGED_VOCODER_NAMES}  # name -> folder
VOCODER_CHOICES = ("auto", "griffin-lim", *BUNDLED_VOCODERS)  # or a folder with vocoder.json + vocoder.safetensors
GRIFFIN_LIM_SPEC = re.compile(r"griffin-lim(?:-(\d+))?(?:-nnls(\d+))?")
MAX_ITERATIONS = 1000
ADAPTER_CONFIG, ADAPTER_WEIGHTS, ADAPTER_INFO = "adapter_config.json", "adapter_model.safetensors", "text2music_adapter.json"
MAX_STRENGTH = 2.0
MAX_DRUM_FREE_GUIDANCE = 30.0  # the largest drum-free guidance a setting or a distillation takes
DEFAULT_DRUM_FREE_GUIDANCE = 3.0  # the drum-free guidance of a model that learnt none (one that did: the scale it learnt)
MAX_REVERB = 2.0  # the largest send to the room (generation's `reverb`): 1 is all of the clip, as the studio corpus sends a pad
STEERED_PARTS = ("changes", "all")  # what of drum-free guidance is applied (models.steering): the changes over time, or all
GENERATIVE_KINDS = ("flow_transformer",)  # the others (the seed's baselines) regress one mel per text


def read_config(path: str | Path) -> dict:
    """The config.json of a model folder, checked: a one-line error when the folder is not one."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"model folder not found: {path}")
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path} is not a text2music model folder (needs config.json and model.safetensors)")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path / 'config.json'}: invalid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path / 'config.json'}: expected a JSON object")
    for key, kind in (("kind", str), ("model", dict), ("mel", dict), ("text", dict)):
        if key not in config:
            raise ValueError(f"{path / 'config.json'}: no {key!r} field")
        if not isinstance(config[key], kind):
            raise ValueError(f"{path / 'config.json'}: {key!r} must be a {'string' if kind is str else 'JSON object'}")
    try:
        learnt_steering(config)
        room_send(config)
        adapter = steering_adapter(config)
    except ValueError as e:
        raise ValueError(f"{path / 'config.json'}: {e}") from None
    if adapter is not None and not (path / adapter / ADAPTER_WEIGHTS).is_file():
        raise ValueError(f"{path / 'config.json'}: its drum-free adapter {path / adapter} is missing (no {ADAPTER_WEIGHTS})")
    return config


def learnt_steering(config: dict) -> tuple[float, tuple[float, float] | None]:
    """(scale, unsteered band in Hz) of the drum-free guidance a model learnt to give in one pass
    (config.json's "drum_free_guidance", written by guidance distillation); (0, None) when it did not."""
    learnt = config.get("drum_free_guidance")
    if learnt is None:
        return 0.0, None
    if not isinstance(learnt, dict) or not isinstance(learnt.get("scale"), (int, float)) or learnt["scale"] < 0:
        raise ValueError('"drum_free_guidance" must be an object with a non-negative "scale"')
    band = learnt.get("unsteered_hz")
    if not (isinstance(band, list) and len(band) == 2 and all(isinstance(f, (int, float)) for f in band) and band[0] <= band[1]):
        raise ValueError('"drum_free_guidance" needs "unsteered_hz": [low, high] in Hz')
    return float(learnt["scale"]), (float(band[0]), float(band[1]))


def steering_adapter(config: dict) -> str | None:
    """The sub-folder of a model folder holding the LoRA adapter in which the model learnt its drum-free
    guidance ("drum_free_guidance": {"adapter": ...}); None when it learnt none or learnt it in its weights."""
    name = (config.get("drum_free_guidance") or {}).get("adapter")
    if name is not None and (not isinstance(name, str) or not name or Path(name).name != name):
        raise ValueError(f'"drum_free_guidance": "adapter" must name a sub-folder of the model folder, got {name!r}')
    return name


def room_send(config: dict) -> float:
    """The reverb send a model gives its clips unless a setting asks for another (config.json's
    "reverb", 0 to MAX_REVERB; 0 when it names none)."""
    send = config.get("reverb", 0.0)
    if isinstance(send, bool) or not isinstance(send, (int, float)) or not 0 <= send <= MAX_REVERB:
        raise ValueError(f'"reverb" must be a number from 0 to {MAX_REVERB:g}, got {send!r}')
    return float(send)


def drum_free_scale(asked: float | None, learnt: float) -> float:
    """The drum-free guidance a generation runs at: `asked` (the setting), else `learnt`, the scale the
    model learnt to give in one pass (`learnt_steering`), else DEFAULT_DRUM_FREE_GUIDANCE."""
    return asked if asked is not None else (learnt or DEFAULT_DRUM_FREE_GUIDANCE)


def adapter_fits(config: dict) -> tuple[str, ...]:
    """The weights (sha256) besides a model's own whose adapters fit it: a distilled model's teacher
    and those the model it was distilled from already took (config.json's "trained")."""
    distilled = config.get("trained", {}).get("guidance_distill", {})
    return tuple(h for h in (distilled.get("teacher_sha256"), *distilled.get("also_fits", [])) if h)


def model_traits(config: dict) -> tuple[bool, bool]:
    """(generative, controllable) of the model a config.json describes: whether it samples (seeds
    matter, loops and init audio work) and whether it was trained with musical controls."""
    return config["kind"] in GENERATIVE_KINDS, bool(config["model"].get("control_frames"))


def griffin_lim_options(spec: str) -> dict | None:
    """ "griffin-lim[-ITERATIONS][-nnlsUPDATES]" -> GriffinLimVocoder fields; None for another spec."""
    match = GRIFFIN_LIM_SPEC.fullmatch(spec)
    if match is None:
        return None
    options = {k: int(v) for k, v in zip(("n_iter", "nnls_iter"), match.groups()) if v is not None}
    if not all(0 <= v <= MAX_ITERATIONS for v in options.values()):
        raise ValueError(f"--vocoder {spec}: iterations must be between 0 and {MAX_ITERATIONS}")
    return options


def has_vocoder(folder: str | Path) -> bool:
    return (Path(folder) / "vocoder.json").is_file()


def check_vocoder_spec(spec: str | Path) -> str:
    """The spec as a string, or a one-line ValueError naming it (before anything is loaded)."""
    spec = str(spec)
    if spec not in VOCODER_CHOICES and griffin_lim_options(spec) is None and not has_vocoder(spec):
        raise ValueError(f"--vocoder: {spec!r} is neither {' nor '.join(VOCODER_CHOICES)} nor a folder with vocoder.json")
    return spec


def read_adapter_config(folder: Path) -> tuple[dict, dict]:
    """(PEFT config, text2music info) of an adapter folder; one-line errors naming it."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"adapter folder not found: {folder}")
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder} is not an adapter folder (no {name}; make one with `text2music finetune`)")
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text())
        info = json.loads((folder / ADAPTER_INFO).read_text()) if (folder / ADAPTER_INFO).is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{folder}: invalid JSON in the adapter's config ({e})") from None
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{folder / ADAPTER_CONFIG}: peft_type {config.get('peft_type')!r}, only LORA adapters are supported")
    unsupported = [k for k in ("rank_pattern", "alpha_pattern") if config.get(k)] + [k for k in ("use_dora",) if config.get(k)]
    if unsupported:
        raise ValueError(f"{folder / ADAPTER_CONFIG}: {', '.join(unsupported)} not supported (plain LoRA only)")
    return config, info


def check_strength(strength: float) -> float:
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0.0 <= strength <= MAX_STRENGTH:
        raise ValueError(f"adapter strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    return float(strength)
