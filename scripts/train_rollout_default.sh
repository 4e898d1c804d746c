#!/usr/bin/env bash
# Issue 23: the shipped default's guidance distilled further, half of each batch asked where the student's
# own 8-step sampling goes (`distill --rollout 0.5`) instead of only on the corpus's straight paths. The
# teacher is the shipped default's (runs/flow_context_nopulse/last, from scripts/train_nopulse_default.sh);
# the student starts from the shipped default of commit 0ba63ff. ROLLOUT=0 is the control: as many steps
# on straight paths only (STOP_AT: stop, saving, after that many steps; the learning rate stays that of a
# timed run, where --steps would decay it). Resumable: run the same command again.
#   bash scripts/train_rollout_default.sh                                          # 50 minutes on 2 cores
#   ROLLOUT=0 MINUTES=90 STOP_AT=1590 OUT=runs/distill_straight bash scripts/train_rollout_default.sh
set -euo pipefail
DATA=${DATA:-data/synth}
MINUTES=${MINUTES:-50}
ROLLOUT=${ROLLOUT:-0.5}
OUT=${OUT:-runs/distill_rollout}
TEACHER=runs/flow_context_nopulse/last
STUDENT=${STUDENT:-runs/distill_nopulse/model}
[ -f "$TEACHER/model.safetensors" ] || bash scripts/train_nopulse_default.sh
if [ ! -f "$STUDENT/model.safetensors" ]; then
  mkdir -p "$STUDENT"
  for f in config.json model.safetensors; do git show "0ba63ff:text2music/assets/default/$f" > "$STUDENT/$f"; done
fi
steps_done() { grep -o '"step": [0-9]*' "$OUT/log.jsonl" 2>/dev/null | tail -1 | grep -o '[0-9]*$' || echo 0; }
if [ -n "${STOP_AT:-}" ] && [ "$(steps_done)" -ge "$STOP_AT" ]; then echo "student: $OUT/model (already $STOP_AT steps)"; exit 0; fi
OMP_WAIT_POLICY=PASSIVE python3 -m text2music distill --data "$DATA" --base "$TEACHER" --student-init "$STUDENT" \
  --out "$OUT" --minutes "$MINUTES" --lr 1e-4 --ema-decay 0.998 --rollout "$ROLLOUT" --quiet &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid' INT TERM
while [ -n "${STOP_AT:-}" ] && kill -0 $pid 2>/dev/null; do
  if [ "$(steps_done)" -ge "$STOP_AT" ]; then kill -INT $pid; break; fi
  sleep 5
done
wait $pid || [ -n "${STOP_AT:-}" ]   # stopped at STOP_AT: the student is saved
echo "student: $OUT/model (text2music generate \"...\" --model $OUT/model)"
