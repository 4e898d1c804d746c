#!/usr/bin/env bash
# Issue 12's leaderboard rows: the musical controls, on the first N prompts of the corpus's test
# split (the same prompts for every row). About 50 minutes on 2 CPU cores at N=150.
#   bash scripts/evaluate_controls.sh                  # N=150, reports under reports/
#   MODEL=runs/flow_controls/best bash scripts/evaluate_controls.sh   # another controlled model
# Rows: real audio and Griffin-Lim (re-judged with the salience key finder and the meter judge),
# the previous bundled model (no controls), and the model with controls three ways: what the
# prompt states (text), each clip's true tempo/key/meter/drums as settings, and no controls.
set -euo pipefail
N=${N:-150}
DATA=${DATA:-data/synth}
R=${REPORTS:-reports}
MODEL=${MODEL:-default}
OLD=${OLD:-}   # a model folder of the previous default (git show 8692498:text2music/assets/default/...)
t2m() { python3 -m text2music "$@"; }
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
t2m data synth --production plain --n 4000 --out "$DATA" --jobs 2 --soundfont "$SOUNDFONT"
t2m evaluate --model real    --data "$DATA" --n "$N" --out "$R/real"
t2m evaluate --model vocoder --data "$DATA" --n "$N" --out "$R/vocoder"
if [ -n "$OLD" ]; then t2m evaluate --model "$OLD" --data "$DATA" --n "$N" --out "$R/flow-previous-gl" --no-speed; fi
t2m evaluate --model "$MODEL" --controls text     --data "$DATA" --n "$N" --out "$R/flow-controls-text"
t2m evaluate --model "$MODEL" --controls settings --data "$DATA" --n "$N" --out "$R/flow-controls-settings" --no-speed
t2m evaluate --model "$MODEL" --controls none     --data "$DATA" --n "$N" --out "$R/flow-controls-dropped" --no-speed
