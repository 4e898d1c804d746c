"""Run under torchrun by test_ddp: trains a few steps, then each rank saves its weights."""

import os
import sys

from safetensors.torch import save_file

from text2music.train.config import TrainConfig
from text2music.train.loop import train

features, out = sys.argv[1], sys.argv[2]
cfg = TrainConfig(
    model="seed_transformer",
    model_args={"d_model": 32, "heads": 2, "layers": 1, "ff": 64},
    features=features,
    out=out,
    epochs=2,
    batch_size=4,
    lr=1e-3,
    max_steps=3,
    log_every=1,
)
result = train(cfg, progress=False)
rank = int(os.environ["RANK"])
save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, os.path.join(out, f"rank{rank}.safetensors"))
