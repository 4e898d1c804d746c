"""The context input: known frames and their mask, zero-initialised so a model gains it unchanged."""

import torch

from tests.models.test_flow_transformer import TINY, text
from text2music.models import build_model
from text2music.models.flow_transformer import Context, masked_mse
from text2music.train.masks import sample_known


def test_a_model_given_the_context_input_starts_exactly_as_before():
    torch.manual_seed(0)
    plain = build_model("flow_transformer", **TINY, patch=2)
    ctx = build_model("flow_transformer", **TINY, patch=2, context=True)
    missing = ctx.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("context_in.") for k in missing)
    x, t, no = torch.randn(2, 32, 64), torch.rand(2), torch.zeros(2, dtype=torch.bool)
    known = torch.zeros(2, 64, dtype=torch.bool)
    known[:, :20] = True
    context = Context(torch.randn(2, 32, 64), known)
    with torch.no_grad():
        assert torch.equal(ctx.velocity(x, t, text(), no, context=context), plain.velocity(x, t, text(), no))


def test_the_loss_is_over_unknown_frames_and_reaches_the_context_input():
    torch.manual_seed(0)
    model = build_model("flow_transformer", **TINY, patch=2, context=True)
    for p in model.parameters():  # as after training: no layer left at zero
        if not p.abs().sum():
            torch.nn.init.normal_(p, std=0.1)
    mel = torch.randn(2, 32, 64)
    known = torch.zeros(2, 64, dtype=torch.bool)
    known[:, :32] = True
    model.loss(mel, text(), known=known).backward()
    assert model.context_in[0].weight.grad.abs().sum() > 0
    v, target = torch.zeros(1, 2, 4), torch.tensor([[[1.0, 1, 3, 3], [1, 1, 3, 3]]])
    assert masked_mse(v, target, torch.tensor([[True, True, False, False]])) == 9.0
    assert masked_mse(v, target) == 5.0


def test_masks_are_whole_tokens_of_every_kind_and_never_all_known():
    gen = torch.Generator().manual_seed(0)
    known = sample_known(400, 101, gen, multiple=2)
    assert known.shape == (400, 101) and not known[:, -1].any()  # the last, partial token stays unknown
    tokens = known[:, :100].reshape(400, 50, 2)
    assert (tokens[..., 0] == tokens[..., 1]).all()
    assert not known.all(dim=1).any()
    starts, ends = known[:, 0], known[:, 99]
    assert (~known).all(dim=1).any()  # none
    assert (starts & ~ends).any() and (~starts & ends).any() and (starts & ends).any()  # prefix, suffix, gap or ends
