"""What to load: `ModelSpec`, the one loading object of the CLI, the server, `evaluate` and Python.

    spec = ModelSpec(model="runs/flow/best", vocoder="vocos", adapter="adapters/game-music", precision="int8")
    config = spec.check()                       # one-line errors, before torch or any weights load
    pipe = Text2Music.from_pretrained(spec)     # text2music.generate.pipeline

`model` None is the model bundled with the package. `vocoder`: "auto" (the one the folder ships or
its config.json names, else Griffin-Lim), "griffin-lim[-ITERATIONS][-nnlsUPDATES]", "vocos" (the
packaged neural vocoder) or a folder with a trained vocoder. `adapter`: a LoRA adapter folder made by
`text2music finetune` for this model, merged at `adapter_strength` (0 = the base model, 1 = as
trained, up to 2). `precision`: "auto" (what the folder's config.json names, else float32),
"float32" or "int8".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from text2music.models.folders import PRECISIONS, check_strength, check_vocoder_spec, model_traits, read_adapter_config, read_config

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "default"


@dataclass(frozen=True)
class ModelSpec:
    """Model folder, vocoder, adapter and its strength, and weight precision (see the module's doc)."""

    model: str | Path | None = None
    vocoder: str | Path = "auto"
    adapter: str | Path | None = None
    adapter_strength: float = 1.0
    precision: str = "auto"

    @property
    def folder(self) -> Path:
        return Path(self.model).expanduser() if self.model is not None else DEFAULT_MODEL_DIR

    def check(self) -> dict:
        """The model folder's config.json, once every part of the spec is known to be usable; else a
        one-line ValueError or FileNotFoundError naming the part (the folder, the file or the option)."""
        self.check_options()
        config = read_config(self.folder)
        where = self.folder / "config.json"
        named = config.get("precision", "float32")
        if named not in PRECISIONS[1:]:
            raise ValueError(f"{where}: unknown precision {named!r}; it must be float32 or int8")
        vocoder = config.get("vocoder")
        if vocoder is not None and not (isinstance(vocoder, str) and _is_vocoder(vocoder)):
            raise ValueError(f'{where}: "vocoder" must name a vocoder such as "vocos" or "griffin-lim", got {vocoder!r}')
        return config

    def check_options(self) -> None:
        """The vocoder, adapter, strength and precision alone (for rows that load no model folder)."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        check_vocoder_spec(self.vocoder)
        check_strength(self.adapter_strength)
        if self.adapter is not None:
            if Path(self.adapter).expanduser().is_file():
                raise ValueError(f"adapter {self.adapter} is a file, not an adapter folder (make one with `text2music finetune`)")
            read_adapter_config(Path(self.adapter).expanduser())

    def traits(self) -> tuple[bool, bool]:
        """(generative, controllable) of the model, from its config.json alone."""
        return model_traits(self.check())


def _is_vocoder(spec: str) -> bool:
    try:
        check_vocoder_spec(spec)
    except ValueError:
        return False
    return True
