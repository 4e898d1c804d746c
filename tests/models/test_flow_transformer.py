import pytest
import torch

from text2music.models import build_model, load_pretrained
from text2music.text import TextEmbedding
from text2music.train.config import TrainConfig
from text2music.train.loop import train

TINY = {"n_mels": 32, "n_frames": 64, "text_dim": 8, "d_model": 32, "heads": 2, "layers": 2}


def text(batch=2, length=5) -> TextEmbedding:
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(batch, length, 8, generator=g)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, 3:] = False
    return TextEmbedding(tokens, mask, tokens.mean(1))


def test_loss_and_gradients():
    model = build_model("flow_transformer", **TINY)
    loss = model.loss(torch.randn(2, 32, 64), text())
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_the_model_file_knows_nothing_of_sampling():
    """Samplers and guidance live in text2music.generate: adding one must not touch the model."""
    import inspect

    import text2music.models.flow_transformer as module

    source = inspect.getsource(module)
    assert "from text2music.generate" not in source and not hasattr(module.FlowTransformer, "generate")


def test_trains_with_the_engine_and_reloads(tiny_features, tmp_path):
    cfg = TrainConfig(
        model="flow_transformer",
        model_args={"d_model": 32, "heads": 2, "layers": 1},
        features=str(tiny_features),
        out=str(tmp_path / "flow"),
        epochs=2,
        batch_size=4,
        lr=1e-3,
        ema_decay=0.9,
        log_every=1,
    )
    result = train(cfg, progress=False)
    assert result.summary["steps"] == 8 and result.ema is not None
    model, mel_cfg, config = load_pretrained(tmp_path / "flow" / "best")
    assert config["kind"] == "flow_transformer"
    # the saved weights are the EMA's
    ema_state = result.ema.state_dict()
    assert all(torch.equal(v, ema_state[k]) for k, v in model.state_dict().items())


def test_fine_tunes_from_a_model_folder(tiny_features, tmp_path):
    args = {"d_model": 32, "heads": 2, "layers": 1}
    first = TrainConfig(
        model="flow_transformer",
        model_args=args,
        features=str(tiny_features),
        out=str(tmp_path / "a"),
        epochs=1,
        batch_size=4,
        lr=1e-3,
        max_steps=2,
    )
    train(first, progress=False)
    start, _, _ = load_pretrained(tmp_path / "a" / "best")
    second = TrainConfig(
        model="flow_transformer",
        model_args=args,
        features=str(tiny_features),
        out=str(tmp_path / "b"),
        epochs=1,
        batch_size=4,
        lr=1e-9,
        max_steps=1,
        init_from=str(tmp_path / "a" / "best"),
    )
    tuned = train(second, progress=False).model
    assert all(torch.allclose(v, start.state_dict()[k], atol=1e-6) for k, v in tuned.state_dict().items())
    other = TrainConfig(
        model="flow_transformer",
        model_args={**args, "d_model": 64},
        features=str(tiny_features),
        out=str(tmp_path / "c"),
        init_from=str(tmp_path / "a" / "best"),
    )
    with pytest.raises(ValueError, match="init_from"):
        train(other, progress=False)
