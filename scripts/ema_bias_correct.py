"""Remove the initial weights from an EMA that had no warm-up (how the bundled model was finished).

The run that trained the bundled model kept an exponential moving average with decay d = 0.9995
from step 0 and no warm-up, so after N = 2,956 steps its average still held d^N = 22.8% of the
random initial weights (validation loss 0.267 instead of 0.110). The initial weights are known
exactly (the loop seeds torch with TrainConfig.seed right before building the model), so the
average of the trained weights alone is recovered exactly, as in Adam's bias correction:

    ema_corrected = (ema - d^N * init) / (1 - d^N)

The training loop now warms its EMA up (decay = min(d, (1 + step) / (10 + step))), so new runs
do not need this.

    python3 scripts/ema_bias_correct.py runs/gpu_default text2music/assets/default
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from text2music.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "run",
        type=Path,
        help="folder with config.json, train_config.json and the EMA weights (model.safetensors, or model_a/model_b halves)",
    )
    ap.add_argument("out", type=Path, help="folder for the corrected model.safetensors (float16) and config.json")
    args = ap.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    train_cfg = json.loads((args.run / "train_config.json").read_text())
    files = [args.run / "model.safetensors"] if (args.run / "model.safetensors").exists() else sorted(args.run.glob("model_*.safetensors"))
    ema = {k: v.float() for f in files for k, v in load_file(str(f)).items()}
    torch.manual_seed(train_cfg["seed"])  # what train() does right before build_model
    init = build_model(config["kind"], **config["model"]).state_dict()
    w = train_cfg["ema_decay"] ** config["trained"]["step"]
    corrected = {k: ((ema[k] - w * init[k]) / (1 - w)).half().contiguous() for k in ema}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(corrected, str(args.out / "model.safetensors"))
    config["text"]["encoder"] = "all-MiniLM-L6-v2"  # the run read an fp16 copy of the same weights
    config["trained"].update({"ema_decay": train_cfg["ema_decay"], "ema_bias_corrected": True, "init_share_removed": round(w, 4)})
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"removed {w:.1%} initial weights -> {args.out / 'model.safetensors'}")


if __name__ == "__main__":
    main()
