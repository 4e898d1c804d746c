#!/usr/bin/env bash
# The shipped default's drum-free guidance, learnt in a LoRA adapter (issue 23, twelfth session; stage 7 of
# text2music/assets/default/TRAINING.md): the default teaches itself its own velocity steered away from drums
# at SCALE (2.5) where the drums control is off, in a rank-RANK adapter of its frozen weights, on the drum-free corpus. The
# model folder written (OUT/model) is the default's weights with the adapter in OUT/model/drum_free; generation
# runs the adapter only where the drums are off (models.steering.DrumFreeSwitch), so clips with drums stay the
# default's exactly. Resumes; run it again with a larger MINUTES to go on.
#   bash scripts/train_drum_free_adapter.sh          # 25 minutes on 2 cores: the shipped adapter (OUT/model/drum_free)
#   SCALE=3 MINUTES=35 OUT=runs/distill_dfa bash scripts/train_drum_free_adapter.sh   # the scale-3 one (not shipped)
set -euo pipefail
OUT=${OUT:-runs/distill_dfa25}
BASE=${BASE:-text2music/assets/default}
if [ "$BASE" = text2music/assets/default ]; then   # the shipped default as it was before it learnt the adapter
  BASE=runs/default_unsteered
  python3 - "$BASE" <<'PY'
import json, shutil, sys
from pathlib import Path
out, shipped = Path(sys.argv[1]), Path("text2music/assets/default")
out.mkdir(parents=True, exist_ok=True)
shutil.copyfile(shipped / "model.safetensors", out / "model.safetensors")
config = json.loads((shipped / "config.json").read_text())
config.pop("drum_free_guidance", None)
config["trained"].pop("drum_free_adapter", None)
(out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
PY
fi
if [ ! -f data/synth_drumfree/metadata.csv ]; then   # the drum-free corpus of scripts/train_drumfree_default.sh
  SOUNDFONT=$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')
  python3 -m text2music data synth --production plain --n 1500 --seed 1 --drum-prob 0 --out data/synth_drumfree \
    --soundfont "$SOUNDFONT" --jobs 2 --quiet
fi
python3 -m text2music distill --data data/synth_drumfree --out "$OUT" --base "$BASE" --minutes "${MINUTES:-25}" \
  --lr "${LR:-5e-4}" --ema-decay 0.998 --drum-free-guidance "${SCALE:-2.5}" --drum-free-adapter "${RANK:-16}" --quiet
