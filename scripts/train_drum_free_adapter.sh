#!/usr/bin/env bash
# The shipped default's drum-free guidance learnt in a LoRA adapter (issue 23, twelfth session): the default
# teaches itself its own velocity steered away from drums at SCALE (3, as it steers today with a second pass)
# where the drums control is off, in a rank-RANK adapter of its frozen weights, on the drum-free corpus. The
# model folder written (OUT/model) is the default's weights with the adapter in OUT/model/drum_free; generation
# runs the adapter only where the drums are off (models.steering.DrumFreeSwitch), so clips with drums stay the
# default's exactly. Resumes; run it again with a larger MINUTES to go on.
#   bash scripts/train_drum_free_adapter.sh          # 35 minutes on 2 cores
set -euo pipefail
OUT=${OUT:-runs/distill_dfa}
BASE=${BASE:-text2music/assets/default}
if [ ! -f data/synth_drumfree/metadata.csv ]; then   # the drum-free corpus of scripts/train_drumfree_default.sh
  SOUNDFONT=$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')
  python3 -m text2music data synth --production plain --n 1500 --seed 1 --drum-prob 0 --out data/synth_drumfree \
    --soundfont "$SOUNDFONT" --jobs 2 --quiet
fi
python3 -m text2music distill --data data/synth_drumfree --out "$OUT" --base "$BASE" --minutes "${MINUTES:-35}" \
  --lr "${LR:-5e-4}" --ema-decay 0.998 --drum-free-guidance "${SCALE:-3}" --drum-free-adapter "${RANK:-16}" --quiet
