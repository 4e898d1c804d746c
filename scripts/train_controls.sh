#!/usr/bin/env bash
# Stage 3 of the bundled model: the musical controls fine-tuned onto the previous default, on the
# CPU (text2music/assets/default/TRAINING.md). The run is resumable: run the same command again.
#   bash scripts/train_controls.sh                  # 7,200-clip corpus, 72 minutes of training
#   MINUTES=300 bash scripts/train_controls.sh      # longer
# A run stopped with Ctrl-C (or a session's end) keeps state.pt; export its EMA weights with
#   python3 scripts/export_checkpoint.py runs/flow_controls runs/flow_controls/exported
set -euo pipefail
DATA=${DATA:-data/synth16k}
N=${N:-7200}
MINUTES=${MINUTES:-72}
OUT=${OUT:-runs/flow_controls}
PREV=${PREV:-runs/previous_default}   # the default before controls (commit 8692498), the starting point
if [ ! -f "$PREV/model.safetensors" ]; then
  mkdir -p "$PREV"
  for f in config.json model.safetensors; do git show "8692498:text2music/assets/default/$f" > "$PREV/$f"; done
fi
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
python3 -m text2music data synth --production plain --n "$N" --out "$DATA" --sample-rate 16000 --soundfont "$SOUNDFONT" --jobs 2
python3 -m text2music data preprocess "$DATA" --preset small
OMP_WAIT_POLICY=PASSIVE python3 -m text2music train --config configs/flow_controls.json \
  --set features="$DATA/features/small" --set init_from="$PREV" --set out="$OUT" --set max_minutes="$MINUTES"
