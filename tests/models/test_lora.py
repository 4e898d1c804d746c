"""LoRA adapters: PEFT's format, merged without PEFT exactly as PEFT runs them, strength, refusals."""

from __future__ import annotations

import json

import pytest
import torch

from text2music.features.mel import get_preset
from text2music.models import build_model, load_pretrained, save_pretrained
from text2music.models.lora import LoraSettings, add_lora, merge_adapter, read_adapter, save_adapter, weights_sha256
from text2music.text import TextEmbedding

TEXT = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("base")
    torch.manual_seed(0)
    model = build_model("flow_transformer", n_mels=80, n_frames=40, d_model=32, heads=2, layers=2, patch=2)
    for p in model.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    save_pretrained(path, model, get_preset("small"), TEXT)
    return path


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory):
    model, _, _ = load_pretrained(base)
    peft_model = add_lora(model, LoraSettings(rank=4, alpha=8.0))
    torch.manual_seed(1)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)  # trained B is non-zero; fresh B is zero
    folder = tmp_path_factory.mktemp("adapter")
    save_adapter(peft_model, folder, {"base_sha256": weights_sha256(base)}, dtype=torch.float32)
    return folder


def velocity(model):
    torch.manual_seed(3)
    x, t = torch.randn(1, 80, 16), torch.tensor([0.4])
    text = TextEmbedding(torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool), torch.randn(1, 384))
    with torch.no_grad():
        return model.velocity(x, t, text, torch.zeros(1, dtype=torch.bool))


def test_lora_trains_only_the_adapted_projections(base):
    model, _, _ = load_pretrained(base)
    peft_model = add_lora(model, LoraSettings(rank=4))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    adapted = {n.split(".lora_")[0].removeprefix("base_model.model.") for n in trainable}
    assert adapted == {
        f"blocks.{b}.{m}"
        for b in range(2)
        for m in ("self_attn.q", "self_attn.kv", "self_attn.out", "cross_attn.q", "cross_attn.kv", "cross_attn.out", "mlp.0", "mlp.2")
    }


def test_merge_matches_peft_and_strength_blends(base, adapter):
    from peft import PeftModel

    plain, _, _ = load_pretrained(base)
    with_peft = PeftModel.from_pretrained(load_pretrained(base)[0], str(adapter))
    merged, _, _ = load_pretrained(base)
    merge_adapter(merged, adapter, 1.0, base_sha256=weights_sha256(base))
    v0, v_peft, v1 = velocity(plain), velocity(with_peft.base_model.model), velocity(merged)
    assert (v_peft - v0).abs().max() > 1e-3  # the adapter changes the model
    assert torch.allclose(v1, v_peft, atol=1e-5)
    half, _, _ = load_pretrained(base)
    merge_adapter(half, adapter, 0.5)
    assert torch.allclose(velocity(half), (v0 + v1) / 2, atol=2e-3)
    zero, _, _ = load_pretrained(base)
    merge_adapter(zero, adapter, 0.0)
    assert torch.equal(velocity(zero), v0)


def test_adapter_refusals(base, adapter, tmp_path):
    model, _, _ = load_pretrained(base)
    with pytest.raises(ValueError, match="trained on other base weights"):
        merge_adapter(model, adapter, 1.0, base_sha256="0" * 64)
    merge_adapter(model, adapter, 1.0, base_sha256="0" * 64, also_fits=(weights_sha256(base),))  # a distilled student of `base`
    with pytest.raises(ValueError, match="strength must be between 0 and 2"):
        merge_adapter(model, adapter, 2.5)
    with pytest.raises(FileNotFoundError, match="not an adapter folder"):
        read_adapter(tmp_path)
    other = build_model("flow_transformer", n_mels=80, n_frames=40, d_model=48, heads=2, layers=2, patch=2)
    with pytest.raises(ValueError, match="does not fit this model"):
        merge_adapter(other, adapter, 1.0)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text(json.dumps({"peft_type": "IA3"}))
    (bad / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="only LORA"):
        read_adapter(bad)


def test_an_adapter_is_merged_before_int8_quantisation(base, adapter):
    """int8 layers hold no float weight to add to: merging into them is refused, naming the order to use."""
    from text2music.models.quantize import quantize

    model = quantize(load_pretrained(base)[0], "int8")
    with pytest.raises(ValueError, match="int8 weights: merge the adapter .* before quantising"):
        merge_adapter(model, adapter, 1.0)
