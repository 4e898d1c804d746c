#!/usr/bin/env bash
# Issue 23's candidate default, in three resumable stages on 2 CPU cores (run the same command again
# to resume any of them; each budget counts over resumes):
#   A  the controls teacher of the bundled model (commit a7990cf, extracted from git) fine-tuned without
#      the beat/downbeat pulse inputs (control_pulses: false, the cause of the beat clicks) on the studio
#      corpus and the real-music corpus (configs/flow_studio.json; 855 steps, as it ran)
#   B  A's weights on the same corpora, now with the real clips' beat grids and chords (`data label`),
#      each drum-free clip drawn twice an epoch (configs/flow_studio_labelled.json; MINUTES_B)
#   C  B guidance-distilled into a one-pass student, 8 steps as the default (`distill`; MINUTES_C)
#   bash scripts/train_studio_default.sh        # about 2 hours
set -euo pipefail
STUDIO=${STUDIO:-data/studio16k}
REAL=${REAL:-data/real}
MINUTES_B=${MINUTES_B:-40}
MINUTES_C=${MINUTES_C:-35}
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
t2m data label --data "$REAL" --quiet   # beat grids and chords (data import writes them where BeatNet is installed)
t2m data preprocess "$REAL" --preset small --quiet   # captions state the labelled tempo
F="[\"$STUDIO/features/small\", \"$REAL/features/small\"]"
OMP_WAIT_POLICY=PASSIVE t2m train --config configs/flow_studio.json --set max_steps=855 --set features="$F" --set init_from="$TEACHER"
OMP_WAIT_POLICY=PASSIVE t2m train --config configs/flow_studio_labelled.json --set max_minutes="$MINUTES_B" --set features="$F"
OMP_WAIT_POLICY=PASSIVE t2m distill --data "$STUDIO" "$REAL" --base runs/flow_studio_labelled/last --out runs/distill_studio \
  --minutes "$MINUTES_C" --lr 1e-4 --ema-decay 0.998
echo "student: runs/distill_studio/model (text2music generate \"...\" --model runs/distill_studio/model)"
