"""Training data: mel arrays in memory, texts, musical controls from the corpus's ground truth,
and a per-text embedding cache for a frozen BERT."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from text2music.features.controls import CONTROL_GROUPS, MusicalControls, drop_groups, frame_controls, global_controls
from text2music.features.preprocess import load_features
from text2music.models.flow_transformer import Controls
from text2music.text import TextEmbedding, TextEncoder, clip_text
from text2music.text.controls import parse_controls


class MelTextSet:
    """All arrays of one split as one tensor `(N, n_mels, n_frames)` plus the text of each clip;
    several feature folders (of one MelConfig) are read one after the other as one set.

    `texts[i]` is what validation sees; `choices[i]` the texts training draws from (two in
    "mixed" mode: the caption and the aspect list; else just `texts[i]`); `silent[i]` the aspect
    list without what it says of drums (`drum_silent_text`), which a batch may draw instead where the
    drums control is given.
    """

    def __init__(self, features: str | list[str], split: str, text_mode: str, limit: int | None = None, controls: bool = False):
        folders = [features] if isinstance(features, (str, Path)) else list(features)
        loaded = [load_features(f, split=split) for f in folders]
        self.mel_config = loaded[0][0]
        for folder, (mel_config, _, _) in zip(folders, loaded):
            if mel_config != self.mel_config:
                raise ValueError(f"{folder} holds features of another MelConfig than {folders[0]}; a training set needs one")
        records = [r for _, rs, _ in loaded for r in rs]
        arrays = np.concatenate([a for _, _, a in loaded]) if len(loaded) > 1 else loaded[0][2]
        if limit is not None:
            records, arrays = records[:limit], arrays[:limit]
        self.records = records
        self.controls = [c for f, (_, rs, _) in zip(folders, loaded) for c in corpus_controls(f, rs)][: len(records)] if controls else None
        self.mels = torch.from_numpy(arrays)
        if text_mode == "mixed":
            self.texts = [r["caption"] for r in records]
            self.choices = [
                (r["caption"], clip_text(r["caption"], r["aspects"], "aspects")) if r["aspects"] else (r["caption"],) for r in records
            ]
        else:
            self.texts = [clip_text(r["caption"], r["aspects"], text_mode) for r in records]
            self.choices = [(t,) for t in self.texts]

    @functools.cached_property
    def silent(self) -> list[str]:
        """Each clip's aspect list without what it says of drums (read only by runs that draw them)."""
        return [drum_silent_text(r["aspects"]) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def batch(
        self,
        idx: list[int],
        gen: torch.Generator,
        crop: tuple[int, int] | None = None,
        multiple: int = 1,
        control_drop: float = 0.0,
        drum_silent: float = 0.0,
    ):
        """Training batch: mels `(B, n_mels, L)`, one text per clip, and (when the set has them)
        the clips' controls with each group dropped with probability `control_drop`; drawn with `gen`.
        Where the drums control is kept, the text is the clip's `silent` one with probability
        `drum_silent` (the control alone then tells the drums).

        With `crop`, L is drawn in [min, max] (rounded down to `multiple`) and each clip is cut at
        a random start; without, L is the whole array.
        """
        mels = self.mels[idx]
        n = mels.shape[-1]
        starts = [0] * len(idx)
        if crop is not None:
            lo, hi = min(crop[0], n), min(crop[1], n)
            length = int(torch.randint(lo, hi + 1, (1,), generator=gen)) // multiple * multiple or multiple
            starts = torch.randint(0, n - length + 1, (len(idx),), generator=gen).tolist()
            mels = torch.stack([m[:, s : s + length] for m, s in zip(mels, starts)])
        picks = torch.randint(0, 2, (len(idx),), generator=gen).tolist()
        texts = [self.choices[i][k % len(self.choices[i])] for i, k in zip(idx, picks)]
        if self.controls is None:
            return mels, texts, None
        drops = (torch.rand(len(idx), len(CONTROL_GROUPS), generator=gen) < control_drop).tolist()
        if drum_silent:
            drums_kept = [not d[DRUMS_GROUP] and self.controls[i].drums is not None for i, d in zip(idx, drops)]
            quiet = (torch.rand(len(idx), generator=gen) < drum_silent).tolist()
            texts = [self.silent[i] if k and q and self.silent[i] else t for i, t, k, q in zip(idx, texts, drums_kept, quiet)]
        return mels, texts, self.control_batch(idx, starts, mels.shape[-1], drops)

    def control_batch(self, idx: list[int], starts: list[int], length: int, drops: list[list[bool]] | None = None) -> Controls:
        """Controls of clips `idx` over frames [start, start + length), groups dropped where `drops` says."""
        rate = self.mel_config.sample_rate / self.mel_config.hop_length
        frames = np.stack([frame_controls(self.controls[i], length, rate, s) for i, s in zip(idx, starts)])
        globals_ = np.stack([global_controls(self.controls[i]) for i in idx])
        for row, flags in enumerate(drops or []):
            drop_groups(frames[row], globals_[row], {g[0] for g, f in zip(CONTROL_GROUPS, flags) if f})
        return Controls(torch.from_numpy(frames), torch.from_numpy(globals_))


def corpus_controls(features: str, records: list[dict]) -> list[MusicalControls]:
    """Ground-truth controls of each record, from the manifest.jsonl of the corpus the features
    folder belongs to (DATA/features/NAME -> DATA/manifest.jsonl)."""
    manifest = Path(features).resolve().parent.parent / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"controls need the corpus ground truth, but {manifest} does not exist")
    truth = {}
    with manifest.open() as f:
        for line in f:
            r = json.loads(line)
            truth[r["clip_id"]] = r
    missing = [r["ytid"] for r in records if r["ytid"] not in truth or not ({"chord_slots", "source_sha1"} & set(truth[r["ytid"]]))]
    if missing:
        raise ValueError(
            f"{manifest}: no beat grid for {len(missing)} clips (e.g. {missing[0]}); rebuild it with this version of `data synth`"
        )
    return [MusicalControls.from_record(truth[r["ytid"]]) for r in records]


DRUMS_GROUP = [name for name, _, _ in CONTROL_GROUPS].index("drums")


def drum_silent_text(aspects: list[str]) -> str:
    """A clip's aspect list without the aspects that state drums on or off ("acoustic drums", "no
    percussion"; `text.controls`); "" when it has no other aspect."""
    return ", ".join(a for a in aspects if parse_controls(a).drums is None)


class EmbeddingCache:
    """Frozen-encoder outputs, computed once per unique text (an epoch then never runs BERT).

    Held by the training run, not by the module: two runs never share or leak a cache.
    """

    def __init__(self, encoder: TextEncoder, texts: list[str], batch_size: int = 64):
        self.index: dict[str, int] = {}
        self.tokens: list[torch.Tensor] = []
        unique = list(dict.fromkeys(texts))
        with torch.no_grad():
            for i in range(0, len(unique), batch_size):
                chunk = unique[i : i + batch_size]
                emb = encoder(chunk)
                for j, text in enumerate(chunk):
                    self.index[text] = len(self.tokens)
                    self.tokens.append(emb.tokens[j, emb.mask[j]])  # stays where the encoder ran (GPU: no copies per step)

    def __len__(self) -> int:
        return len(self.tokens)

    def batch(self, texts: list[str]) -> TextEmbedding:
        rows = [self.tokens[self.index[t]] for t in texts]
        lengths = torch.tensor([r.shape[0] for r in rows], device=rows[0].device)
        tokens = pad_sequence(rows, batch_first=True)
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
        pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return TextEmbedding(tokens, mask, pooled)
