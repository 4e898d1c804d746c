#!/usr/bin/env bash
# Issue 25's branch for the band above 8 kHz (EVALUATION.md, History, "Issue 25: a branch of its own for the band
# above 8 kHz"): trains it on the packaged full-band vocoder (scripts/train_vocoder_fullband.sh; about 60 minutes
# on 2 CPU cores), then its rows beside those of scripts/evaluate_fullband.sh (reports/full_band/): real mel ->
# vocoder on all 403 test prompts of the corpus at 44.1 kHz and on reserved real music, the bundled generator
# through the packaged vocoder and through the branch (paired), the per-clip log-spectral distance with its interval
# (the judges hear 16 kHz, where the branch changes nothing: its rows are read beside reports/full_band/), the
# speed and the picture. About 20 minutes after the training; re-running resumes.
#   bash scripts/evaluate_fullband_branch.sh
set -euo pipefail
RUN=${RUN:-runs/vocos-fullband-branch}
BRANCH=${BRANCH:-$RUN-export}
R=${REPORTS:-reports/full_band_branch}
RESERVED=${RESERVED:-data/reserved44k}
[ -f "$RESERVED/manifest.jsonl" ] || { echo "$RESERVED: no corpus (scripts/evaluate_fullband.sh imports it)" >&2; exit 2; }
INIT=vocos-fullband TRAIN="--high-layers 4 --high-band-only" BATCH=16 LR=5e-4 STEPS=7000 MINUTES=70 CHECKPOINT_EVERY=500 \
  RUN="$RUN" DEST="$BRANCH" bash scripts/train_vocoder_fullband.sh
t2m() { python3 -m text2music "$@"; }
t2m evaluate --model "vocoder:$BRANCH" --data data/synth44k --n 403 --out "$R/synth/branch"
t2m evaluate --model "vocoder:$BRANCH" --data "$RESERVED" --split all --n 200 --out "$R/reserved/branch"
t2m evaluate --model default --vocoder vocos-fullband --data data/synth44k --n 150 --out "$R/model/fullband"
t2m evaluate --model default --vocoder "$BRANCH" --data data/synth44k --n 150 --out "$R/model/branch"
python3 bench/paired_bootstrap.py "$R/model/fullband" "$R/model/branch" --draws 200 > "$R/model/bootstrap.txt"
python3 bench/full_band.py lsd --fullband "vocos-fullband,$BRANCH" --corpus data/synth44k --n 403 --seconds 10 > "$R/synth/lsd.md"
python3 bench/full_band.py lsd --fullband "vocos-fullband,$BRANCH" --corpus "$RESERVED" --split all --n 200 --seconds 10 > "$R/reserved/lsd.md"
python3 bench/full_band.py speed --fullband "$BRANCH" > "$R/speed.md"
python3 bench/full_band.py picture --fullband "vocos-fullband,$BRANCH" -o docs/images/full_band_branch.png
