#!/usr/bin/env bash
# Issue 23, fourth session: the candidate of scripts/train_real_mix_default.sh against the shipped default,
# as the default runs (8 steps, int8, vocos-fullband at 44.1 kHz): held-out real music (issue 14's 150 test
# prompts, against reports/adapter_nopulse/default), the leaderboard's 150 prompts (against
# reports/nopulse/leaderboard-default), paired bootstraps, and the drum-free prompts heard drum-free.
# Every evaluate resumes.
#   bash scripts/evaluate_real_mix.sh          # about 40 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/real_mix}
STUDENT=${STUDENT:-runs/distill_real_mix/model}
M=${CANDIDATE:-runs/real_mix_candidate}   # the student with the shipped default's runtime settings
t2m() { python3 -m text2music "$@"; }
mkdir -p "$R"
python3 scripts/as_default.py "$STUDENT" "$M"
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
row --model "$M" --data data/real --out "$R/real-music-candidate"
python3 bench/paired_bootstrap.py reports/adapter_nopulse/default "$R/real-music-candidate" --draws 200 > "$R/bootstrap-real-music.txt"
row --model "$M" --out "$R/candidate"
python3 bench/paired_bootstrap.py reports/nopulse/leaderboard-default "$R/candidate" --draws 200 > "$R/bootstrap.txt"
python3 bench/drum_free.py "$M" "$M,guidance=5" | tee "$R/drum_free.txt"
# once it ships (its weights and config.json in text2music/assets/default/): the leaderboard's first row
if cmp -s "$M/model.safetensors" text2music/assets/default/model.safetensors; then
  t2m evaluate --model default --n 150 --out "$R/leaderboard-default"
fi
