"""Text: the BERT encoder (`encoder`, torch) and the parser of musical controls stated in a prompt
(`controls`, pure Python). The encoder's names load on first use, so importing the parser (the
CLI's option checks) does not import torch."""

import importlib

__all__ = ["DEFAULT_BERT", "TextEmbedding", "TextEncoder", "clip_text", "resolve_bert"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("text2music.text.encoder"), name)
    raise AttributeError(f"module 'text2music.text' has no attribute {name!r}")
