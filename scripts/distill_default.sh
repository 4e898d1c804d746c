#!/usr/bin/env bash
# The guidance-distilled student of the controls model (issue 15): one network pass per sampler step
# instead of two. Teacher: the default before issue 15 (commit a7990cf), extracted from git. The
# corpus is stage 3's (scripts/train_controls.sh). Resumable: run the same command again.
#   bash scripts/distill_default.sh                 # 50 minutes of training on 2 CPU cores
#   MINUTES=120 bash scripts/distill_default.sh     # longer
set -euo pipefail
DATA=${DATA:-data/synth16k}
N=${N:-7200}
MINUTES=${MINUTES:-50}
OUT=${OUT:-runs/distill}
TEACHER=${TEACHER:-runs/teacher_default}
if [ ! -f "$TEACHER/model.safetensors" ]; then
  mkdir -p "$TEACHER"
  for f in config.json model.safetensors; do git show "a7990cf:text2music/assets/default/$f" > "$TEACHER/$f"; done
fi
if [ ! -f "$DATA/manifest.jsonl" ]; then
  SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
  python3 -m text2music data synth --production plain --n "$N" --out "$DATA" --sample-rate 16000 --soundfont "$SOUNDFONT" --jobs 2
fi
OMP_WAIT_POLICY=PASSIVE python3 -m text2music distill --data "$DATA" --base "$TEACHER" --out "$OUT" \
  --minutes "$MINUTES" --lr 1e-4 --ema-decay 0.998
echo "student: $OUT/model (text2music generate \"...\" --model $OUT/model)"
