#!/usr/bin/env bash
# Drum-free guidance (the `drum_free_guidance` setting, 3 by default) on the shipped default, against the
# same model without it (reports/nopulse/leaderboard-default and candidate-settings, made before the setting
# existed): the drum-free and drum prompts (bench/drum_free.py), the leaderboard's 150 prompts with controls
# from the text and with the true controls as settings (drum-free prompts then set --no-drums), paired
# bootstraps. Every evaluate resumes.
#   bash scripts/evaluate_drum_free_guidance.sh       # about 20 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/drum_free_guidance}
t2m() { python3 -m text2music "$@"; }
mkdir -p "$R"
python3 bench/drum_free.py real default default,drum_free_guidance=0 default,drum_free_guidance=2 | tee "$R/drum_free.jsonl"
python3 bench/drum_free.py --prompts drums --n 50 real default | tee -a "$R/drum_free.jsonl"
t2m evaluate --model default --n 150 --out "$R/leaderboard-default"   # the leaderboard's first row, speed included
t2m evaluate --model default --n 150 --no-speed --quiet --controls settings --out "$R/default-settings"
python3 bench/paired_bootstrap.py reports/nopulse/leaderboard-default "$R/leaderboard-default" --draws 200 > "$R/bootstrap.txt"
python3 bench/paired_bootstrap.py reports/nopulse/candidate-settings "$R/default-settings" --draws 200 > "$R/bootstrap-settings.txt"
