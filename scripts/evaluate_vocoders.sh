#!/usr/bin/env bash
# Issue 13's rows (EVALUATION.md, History, "Issue 13"): real mel -> each vocoder -> the judges on the whole test
# split (N=403), then the bundled generator's own mels through the neural vocoder and through Griffin-Lim
# on the first N_MODEL prompts (the musical-controls section's prompts). About 45 minutes on 2 CPU cores.
#   bash scripts/evaluate_vocoders.sh                       # reports under reports/vocoders/
#   VOCODER=runs/vocos bash scripts/evaluate_vocoders.sh    # another trained vocoder for the neural row
set -euo pipefail
N=${N:-403}
N_MODEL=${N_MODEL:-150}
DATA=${DATA:-data/synth}
R=${REPORTS:-reports/vocoders}
VOCODER=${VOCODER:-default}   # vocoder:default = the neural vocoder shipped in the bundled model's folder
t2m() { python3 -m text2music "$@"; }
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
t2m data synth --production plain --n 4000 --out "$DATA" --jobs 2 --soundfont "$SOUNDFONT"
t2m evaluate --model real                            --data "$DATA" --n "$N" --out "$R/real"
t2m evaluate --model vocoder:griffin-lim-32-nnls30   --data "$DATA" --n "$N" --out "$R/griffin-lim-nnls30"    # as shipped before
t2m evaluate --model vocoder                         --data "$DATA" --n "$N" --out "$R/griffin-lim"           # NNLS 300: the analytic fallback
t2m evaluate --model "vocoder:$VOCODER"              --data "$DATA" --n "$N" --out "$R/neural"
t2m evaluate --model real                            --data "$DATA" --n "$N_MODEL" --out "$R/real-$N_MODEL"
t2m evaluate --model default --vocoder griffin-lim-32-nnls30 --data "$DATA" --n "$N_MODEL" --out "$R/flow-default-griffin-lim-nnls30" --no-speed
t2m evaluate --model default                           --data "$DATA" --n "$N_MODEL" --out "$R/flow-default"
t2m evaluate --model default --vocoder griffin-lim    --data "$DATA" --n "$N_MODEL" --out "$R/flow-default-griffin-lim" --no-speed
