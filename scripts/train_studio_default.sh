#!/usr/bin/env bash
# Issue 23's teacher: the controls teacher of the bundled model (commit a7990cf, extracted from git)
# fine-tuned without the beat/downbeat pulse inputs (control_pulses: false, the cause of the beat
# clicks) on the studio corpus and the real-music corpus together (configs/flow_studio.json).
# Every step resumes: run the same command again.
#   bash scripts/train_studio_default.sh                 # 45 minutes of training on 2 CPU cores
#   MINUTES=120 bash scripts/train_studio_default.sh     # longer (the budget counts over resumes)
# Export a stopped run's EMA weights: python3 scripts/export_checkpoint.py runs/flow_studio runs/flow_studio/exported
set -euo pipefail
STUDIO=${STUDIO:-data/studio16k}
REAL=${REAL:-data/real}
MINUTES=${MINUTES:-45}
TEACHER=${TEACHER:-runs/teacher_default}
PACKAGES=naev-data,supertux-data,widelands-data,hedgewars-data,colobot-common-sounds,ironseed-data,marsshooter-data,tecnoballz-data,flare-game
t2m() { python3 -m text2music "$@"; }
if [ ! -f "$TEACHER/model.safetensors" ]; then
  mkdir -p "$TEACHER"
  for f in config.json model.safetensors; do git show "a7990cf:text2music/assets/default/$f" > "$TEACHER/$f"; done
fi
t2m data synth --production studio --n 4000 --out "$STUDIO" --sample-rate 16000 --jobs 2 --quiet
bash scripts/real_music.sh "$REAL" --packages "$PACKAGES" --quiet   # issue 14's nine packages (11.2 h)
t2m data preprocess "$STUDIO" --preset small --quiet
t2m data preprocess "$REAL" --preset small --quiet
OMP_WAIT_POLICY=PASSIVE t2m train --config configs/flow_studio.json --set max_minutes="$MINUTES" \
  --set features="[\"$STUDIO/features/small\", \"$REAL/features/small\"]" --set init_from="$TEACHER"
