"""The plain-torch BERT gives transformers' BertModel outputs and BertTokenizer ids, without importing transformers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from text2music.text.bert import load_bert, load_weights, tokenize
from text2music.text.encoder import TextEncoder, resolve_bert

TEXTS = [
    "a calm solo piano piece in A minor at 70 BPM",
    "Électro-pop naïve, 120 BPM!! with  odd   spacing and CAPITALS",
    "guitar " * 200,  # longer than max_length: cut, [SEP] kept
    "café 吉他 drums",
    "low quality, drums, bass",
]


@pytest.fixture(scope="module")
def reference():
    from transformers import BertModel, BertTokenizer

    path = resolve_bert(None)
    return BertTokenizer.from_pretrained(path), BertModel.from_pretrained(path).eval()


def test_ids_and_hidden_states_match_transformers(reference):
    tokenizer, model = reference
    bert, ours = load_bert(resolve_bert(None))
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, mask = tokenize(ours, TEXTS, 128)
    assert torch.equal(ids, batch["input_ids"]) and torch.equal(mask, batch["attention_mask"])
    with torch.no_grad():
        expected = model(**batch).last_hidden_state
        got = bert(ids, mask)
    real = mask.bool()
    assert (got - expected)[real].abs().max() < 1e-4


def test_a_fine_tuned_encoder_saved_by_transformers_loads(reference, tmp_path):
    _, model = reference
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["encoder.layer.0.output.dense.bias"] += 0.5  # pooler and position ids are in it too
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    encoder = TextEncoder()
    from safetensors.torch import load_file

    load_weights(encoder.bert, load_file(str(tmp_path / "w.safetensors")), "w.safetensors")
    assert torch.equal(encoder.bert.encoder.layer[0].output.dense.bias, state["encoder.layer.0.output.dense.bias"])
    with pytest.raises(ValueError, match="do not fit"):
        load_weights(encoder.bert, {"nonsense.weight": torch.zeros(2)}, "x.safetensors")


def test_the_text_encoder_does_not_import_transformers():
    code = "import sys; from text2music.text import TextEncoder; TextEncoder()(['piano']); print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
