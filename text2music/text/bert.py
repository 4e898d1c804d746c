"""BERT in plain torch: the text encoder's network and tokenizer without importing transformers.

Importing transformers and building its BertModel took about 3 s of a cold `text2music generate`
on 2 cores; this file reads the same folder (config.json, model.safetensors or pytorch_model.bin,
tokenizer.json or vocab.txt) in a tenth of that. Parameter names are Hugging Face's, so a fine-tuned
encoder saved by either loads in both; `tests/text/test_bert.py` checks the outputs against
transformers' BertModel and the token ids against BertTokenizer.

    bert, tokenizer = load_bert(folder)
    ids, mask = tokenize(tokenizer, ["a calm piano piece"], max_length=128)   # (B, L) int64, (B, L) int64
    hidden = bert(ids, mask)                                                  # (B, L, hidden_size)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_json(cls, path: Path) -> "BertConfig":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("model_type", "bert") != "bert" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: not a BERT with absolute positions (model_type {raw.get('model_type')!r})")
        if raw.get("hidden_act", "gelu") not in ACTIVATIONS:
            raise ValueError(f"{path}: unsupported hidden_act {raw['hidden_act']!r}; supported: {', '.join(ACTIVATIONS)}")
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


class Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(h)


class SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """h `(B, L, d)`, bias `(B, 1, 1, L)` additive (0 or -inf-like) -> `(B, L, d)`."""
        B, L, d = h.shape
        q, k, v = (p(h).view(B, L, self.heads, -1).transpose(1, 2) for p in (self.query, self.key, self.value))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return out.transpose(1, 2).reshape(B, L, d)


class Output(nn.Module):
    """dense -> dropout-free residual -> LayerNorm (Hugging Face's BertSelfOutput / BertOutput)."""

    def __init__(self, d_in: int, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(d_in, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = Output(cfg.hidden_size, cfg)


class Intermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = ACTIVATIONS[cfg.hidden_act]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(h))


class Layer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = Output(cfg.intermediate_size, cfg)

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = self.attention.output(self.attention.self(h, bias), h)
        return self.output(self.intermediate(h), h)


class Encoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))


class Bert(nn.Module):
    """ids `(B, L)`, mask `(B, L)` (1 = token, 0 = padding) -> last hidden states `(B, L, hidden_size)`.

    Hugging Face's BertModel without its pooler and without dropout (a fine-tuned encoder trains without it)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(ids)
        bias = torch.zeros(mask.shape, dtype=h.dtype, device=h.device).masked_fill(mask == 0, torch.finfo(h.dtype).min)
        for layer in self.encoder.layer:
            h = layer(h, bias[:, None, None, :])
        return h


def read_state(folder: Path) -> dict[str, torch.Tensor]:
    """The weights of a BERT folder (safetensors preferred; a .bin is read without executing code)."""
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{folder} has no model.safetensors or pytorch_model.bin")


def load_weights(bert: Bert, state: dict[str, torch.Tensor], where: str) -> None:
    """Load Hugging Face BERT weights (with or without the `bert.` prefix; the pooler and position
    ids are not used) into `bert`, in float32; a one-line error naming what does not fit."""
    state = {k.removeprefix("bert."): v.float() for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith(("pooler.", "cls.")) and not k.endswith("position_ids")}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{where}: BERT weights do not fit (missing {missing[:2]}, unexpected {unexpected[:2]})")


def load_tokenizer(folder: Path):
    """A fast (Rust) BERT word-piece tokenizer from tokenizer.json, else from vocab.txt."""
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer

    if (folder / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer
    if not (folder / "vocab.txt").is_file():
        raise FileNotFoundError(f"{folder} has neither tokenizer.json nor vocab.txt")
    settings = json.loads((folder / "tokenizer_config.json").read_text()) if (folder / "tokenizer_config.json").is_file() else {}
    lower = settings.get("do_lower_case", True)
    return BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=lower, strip_accents=settings.get("strip_accents"))


def tokenize(tokenizer, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask `(B, L)`, [CLS] ... [SEP], cut to `max_length`, padded with 0 to the longest."""
    encodings = tokenizer.encode_batch(texts)
    rows = []
    for e in encodings:
        ids = e.ids
        if len(ids) > max_length:
            ids = ids[: max_length - 1] + ids[-1:]  # keep [SEP], as BertTokenizer's truncation does
        rows.append(ids)
    length = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def load_bert(folder: str | Path) -> tuple[Bert, object]:
    """(the BERT of a Hugging Face BERT folder in float32, its tokenizer)."""
    folder = Path(folder)
    cfg = BertConfig.from_json(folder / "config.json")
    bert = Bert(cfg)
    load_weights(bert, read_state(folder), str(folder))
    return bert, load_tokenizer(folder)
