"""A tiny flow model folder shared by the generation tests."""

import pytest
import torch

from text2music.features.mel import get_preset
from text2music.models import build_model, save_pretrained

TEXT = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A flow model folder (no musical controls) whose output layers have weights: a model that moves."""
    path = tmp_path_factory.mktemp("tinyflow")
    torch.manual_seed(0)
    model = build_model("flow_transformer", d_model=64, heads=2, layers=2, patch=2)
    for p in model.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    save_pretrained(path, model, get_preset("small"), TEXT)
    return path
