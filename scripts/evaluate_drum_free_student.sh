#!/usr/bin/env bash
# The student that gives drum-free guidance in one pass (scripts/train_drum_free_student.sh) against the
# shipped default, which steers with a second pass (reports/drum_free_guidance): the drum-free and drum
# prompts (bench/drum_free.py, with the key of drum-free prompts), the leaderboard's 150 prompts with
# controls from the text and with the true controls as settings, paired bootstraps, and the joins of 60-s
# pieces. Every evaluate resumes. The 85-minute student: MINUTES=35 bash scripts/train_drum_free_student.sh
# again, then REPORTS=reports/drum_free_student/85min CANDIDATE=runs/dfg_candidate85 and this script. The
# self-distilled default: REPORTS=reports/drum_free_self STUDENT=runs/distill_self/model CANDIDATE=runs/self_candidate.
#   bash scripts/evaluate_drum_free_student.sh          # about 35 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/drum_free_student}
STUDENT=${STUDENT:-runs/distill_dfg/model}
M=${CANDIDATE:-runs/dfg_candidate}   # the student with the shipped default's runtime settings
B=reports/drum_free_guidance         # the shipped default's rows
t2m() { python3 -m text2music "$@"; }
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
mkdir -p "$R"
if [ ! -d "$B/leaderboard-default/embeddings" ]; then   # a fresh machine: the paired bootstraps need the default's clips judged here
  B=runs/drum_free_guidance
  row --model default --out "$B/leaderboard-default"
  row --model default --controls settings --out "$B/default-settings"
fi
python3 scripts/as_default.py "$STUDENT" "$M"
python3 bench/drum_free.py real default "$M" "$M,drum_free_guidance=0" | tee "$R/drum_free.jsonl"
python3 bench/drum_free.py --prompts drums --n 50 "$M" | tee -a "$R/drum_free.jsonl"
# the key of all 95 drum-free prompts of the 403, each clip's true controls given as settings
python3 bench/drum_free.py --n 403 default,controls=settings "$M,controls=settings" "$M,controls=settings,drum_free_guidance=0" \
  default,controls=settings,drum_free_guidance=0 | tee -a "$R/drum_free.jsonl"
row --model "$M" --out "$R/candidate"
row --model "$M" --controls settings --out "$R/candidate-settings"
python3 bench/paired_bootstrap.py "$B/leaderboard-default" "$R/candidate" --draws 200 > "$R/bootstrap.txt"
python3 bench/paired_bootstrap.py "$B/default-settings" "$R/candidate-settings" --draws 200 > "$R/bootstrap-settings.txt"
python3 bench/pieces.py seams --n 20 --data data/synth --model "$M" | tee "$R/seams.txt"
# once it ships (its weights and config.json in text2music/assets/default/): the leaderboard's first row
if cmp -s "$M/model.safetensors" text2music/assets/default/model.safetensors; then
  t2m evaluate --model default --n 150 --out "$R/leaderboard-default"
fi
