from text2music.text.encoder import DEFAULT_BERT, TextEmbedding, TextEncoder, clip_text, resolve_bert

__all__ = ["DEFAULT_BERT", "TextEmbedding", "TextEncoder", "clip_text", "resolve_bert"]
