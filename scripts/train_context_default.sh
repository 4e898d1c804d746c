#!/usr/bin/env bash
# The context-aware default (issue 24): the teacher of the bundled default (commit a7990cf) gains a
# zero-initialised context input (known mel frames + mask) and is fine-tuned with random masks
# (text2music/train/masks.py); then the guidance is distilled again into a one-pass student that
# starts from the bundled default's own weights (commit d5157a4) plus the teacher's context input.
# Both stages run on the CPU and resume: run the same command again.
#   bash scripts/train_context_default.sh                       # 35 + 30 minutes on 2 cores
#   MINUTES_A=120 MINUTES_B=90 bash scripts/train_context_default.sh
# CONFIG, STUDENT_COMMIT, DATA and RATE make other defaults the same way (scripts/train_nopulse_default.sh).
set -euo pipefail
DATA=${DATA:-data/synth16k}
N=${N:-4000}
RATE=${RATE:-16000}
CONFIG=${CONFIG:-configs/flow_context.json}
STUDENT_COMMIT=${STUDENT_COMMIT:-d5157a4}
MINUTES_A=${MINUTES_A:-35}
MINUTES_B=${MINUTES_B:-30}
TEACHER=${TEACHER:-runs/teacher_default}
STUDENT=${STUDENT:-runs/student_default}
OUT_A=${OUT_A:-runs/flow_context}
OUT_B=${OUT_B:-runs/distill_context}
extract() {  # extract COMMIT FOLDER: the bundled default of a commit
  [ -f "$2/model.safetensors" ] && return
  mkdir -p "$2"
  for f in config.json model.safetensors; do git show "$1:text2music/assets/default/$f" > "$2/$f"; done
}
extract a7990cf "$TEACHER"
extract "$STUDENT_COMMIT" "$STUDENT"
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
python3 -m text2music data synth --production plain --n "$N" --out "$DATA" --sample-rate "$RATE" --soundfont "$SOUNDFONT" --jobs 2 --quiet
python3 -m text2music data preprocess "$DATA" --preset small
export OMP_WAIT_POLICY=PASSIVE
python3 -m text2music train --config "$CONFIG" --set features="$DATA/features/small" \
  --set init_from="$TEACHER" --set out="$OUT_A" --set max_minutes="$MINUTES_A"
python3 -m text2music distill --data "$DATA" --base "$OUT_A/last" --student-init "$STUDENT" --out "$OUT_B" \
  --minutes "$MINUTES_B" --lr 1e-4 --ema-decay 0.998 --quiet
echo "student: $OUT_B/model (text2music generate \"...\" --model $OUT_B/model)"
