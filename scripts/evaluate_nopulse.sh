#!/usr/bin/env bash
# The click-free candidate default (scripts/train_nopulse_default.sh) against the shipped default, as the
# default runs (8 steps, int8, vocos-fullband at 44.1 kHz): the leaderboard's 150 prompts with controls from
# the text and with the true controls as settings (drum-free prompts then set --no-drums), paired bootstrap,
# the beat clicks of 4 drum-free prompts, and bar loops. Every evaluate resumes.
#   bash scripts/evaluate_nopulse.sh          # about 40 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/nopulse}
STUDENT=${STUDENT:-runs/distill_nopulse/model}
M=${CANDIDATE:-runs/nopulse_candidate}   # the student with the shipped default's runtime settings
t2m() { python3 -m text2music "$@"; }
mkdir -p "$R"
python3 scripts/as_default.py "$STUDENT" "$M"
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
row --model "$M" --out "$R/candidate"                                   # the leaderboard's row
row --model default --controls settings --out "$R/default-settings"
row --model "$M" --controls settings --out "$R/candidate-settings"
python3 bench/paired_bootstrap.py reports/full_band/leaderboard-default "$R/candidate" --draws 200 > "$R/bootstrap.txt"
python3 bench/paired_bootstrap.py "$R/default-settings" "$R/candidate-settings" --draws 200 > "$R/bootstrap-settings.txt"
python3 bench/beat_clicks.py default "$M" --png docs/images/beat_clicks_nopulse.png | tee "$R/beat_clicks.txt"
python3 bench/loops.py --bars --n 12 --steps 8 --data data/synth --model "$M" | tee "$R/loops.txt"
# once it ships (its weights and config.json in text2music/assets/default/): the leaderboard's first row
if cmp -s "$M/model.safetensors" text2music/assets/default/model.safetensors; then
  t2m evaluate --model default --n 150 --out "$R/leaderboard-default"
fi
