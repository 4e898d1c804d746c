"""Carry the text encoder to a machine without it, in a third of the space: only the word
embeddings of the tokens a corpus uses (plus the special tokens), float16.

    python3 scripts/prune_bert_vocab.py prune data/synth .bert_pruned     # here
    python3 scripts/prune_bert_vocab.py restore .bert_pruned /tmp/bert    # there: a normal BERT folder

The restored model is all-MiniLM-L6-v2 in float16 with every other word embedding zero, so it
gives the packaged model's outputs (to float16 rounding) for every text made of kept tokens;
`restore --check TEXTS_FILE` counts texts with a token outside the kept set (they would read
zeros). Used to fine-tune the bundled model on a lent GPU (scripts/gpu_finetune_default.sh),
where the whole working tree must fit in 64 MiB.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WORDS = "embeddings.word_embeddings.weight"
TOKENIZER_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def corpus_texts(data: Path) -> list[str]:
    texts = []
    for line in (data / "manifest.jsonl").read_text().splitlines():
        r = json.loads(line)
        texts += [r["caption"], ", ".join(r["aspects"])]
    return texts


def prune(data: Path, out: Path) -> None:
    from transformers import BertTokenizer

    from text2music.text.encoder import resolve_bert

    src = Path(resolve_bert(None))
    tok = BertTokenizer.from_pretrained(str(src), local_files_only=True)
    ids = set(tok.all_special_ids)
    for text in corpus_texts(data):
        ids.update(tok(text, truncation=True, max_length=128)["input_ids"])
    state = load_file(str(src / "model.safetensors"))
    keep = torch.tensor(sorted(ids))
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(src / name, out / name)
    save_file({k: v.half().contiguous() for k, v in state.items() if k != WORDS}, str(out / "encoder.safetensors"))
    save_file(
        {"ids": keep, "rows": state[WORDS][keep].half().contiguous(), "shape": torch.tensor(state[WORDS].shape)},
        str(out / "word_rows.safetensors"),
    )
    print(f"kept {len(keep)} of {state[WORDS].shape[0]} word embeddings -> {out}")


def restore(src: Path, out: Path, check: Path | None) -> None:
    rows = load_file(str(src / "word_rows.safetensors"))
    words = torch.zeros(*rows["shape"].tolist(), dtype=torch.float16)
    words[rows["ids"]] = rows["rows"]
    state = {**load_file(str(src / "encoder.safetensors")), WORDS: words}
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(src / name, out / name)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    if check is not None:
        from transformers import BertTokenizer

        tok = BertTokenizer.from_pretrained(str(out), local_files_only=True)
        kept = set(rows["ids"].tolist())
        texts = [t for t in check.read_text().splitlines() if t.strip()]
        missing = sum(any(i not in kept for i in tok(t, truncation=True, max_length=128)["input_ids"]) for t in texts)
        print(f"{missing} of {len(texts)} texts have a token outside the kept vocabulary")
    print(f"restored -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prune")
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    r = sub.add_parser("restore")
    r.add_argument("src", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--check", type=Path, default=None, help="text file, one text per line")
    args = ap.parse_args()
    if args.cmd == "prune":
        prune(args.data, args.out)
    else:
        restore(args.src, args.out, args.check)


if __name__ == "__main__":
    main()
