#!/usr/bin/env bash
# The rollout-distilled student (scripts/train_rollout_default.sh) and its control (the same minutes on
# straight paths only) against the shipped default, as the default runs (8 steps, int8, vocos-fullband at
# 44.1 kHz): how far each student's mel lands from the teacher's, the drum-free prompts at guidance 3 and 5,
# and the leaderboard's 150 prompts with a paired bootstrap. Every evaluate resumes.
#   bash scripts/evaluate_rollout.sh            # about 25 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/rollout}
TEACHER=${TEACHER:-runs/flow_context_nopulse/last}
mkdir -p "$R"
candidates=()
for run in ${RUNS:-runs/distill_rollout runs/distill_straight}; do
  [ -f "$run/model/model.safetensors" ] || continue
  python3 scripts/as_default.py "$run/model" "$run-candidate"
  candidates+=("$run-candidate")
done
python3 bench/distill_gap.py "$TEACHER" default "${candidates[@]}" --guidance 3 5 | tee "$R/distill_gap.jsonl"
systems=(default default,guidance=5)
for m in "${candidates[@]}"; do systems+=("$m" "$m,guidance=5"); done
python3 bench/drum_free.py "${systems[@]}" | tee "$R/drum_free.jsonl"
for m in "${candidates[@]}"; do
  name=$(basename "$m")
  python3 -m text2music evaluate --model "$m" --n 150 --no-speed --quiet --out "$R/$name"
  python3 bench/paired_bootstrap.py reports/nopulse/leaderboard-default "$R/$name" --draws 200 > "$R/$name/bootstrap.txt"
done
