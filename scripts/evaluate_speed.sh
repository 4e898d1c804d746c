#!/usr/bin/env bash
# Issue 15's leaderboard rows (EVALUATION.md, History, "Issue 15"; the last row is the current table's shipped
# default): the default before issue 15 and each fast variant on the first 150 test prompts of the corpus
# (the musical-controls section's prompts), then the paired bootstrap of the new defaults against the old.
# About 60 minutes on 2 CPU cores.
#   bash scripts/evaluate_speed.sh                  # reports under reports/speed/
set -euo pipefail
N=${N:-150}
DATA=${DATA:-data/synth}
R=${REPORTS:-reports/speed}
TEACHER=${TEACHER:-runs/teacher_default}   # the default before issue 15 (scripts/distill_default.sh extracts it)
t2m() { python3 -m text2music "$@"; }
if [ ! -f "$TEACHER/model.safetensors" ]; then
  mkdir -p "$TEACHER"
  for f in config.json model.safetensors; do git show "a7990cf:text2music/assets/default/$f" > "$TEACHER/$f"; done
fi
if [ ! -f "$DATA/manifest.jsonl" ]; then
  SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
  t2m data synth --production plain --n 4000 --out "$DATA" --jobs 2 --soundfont "$SOUNDFONT"
fi
S=${STUDENT:-default}   # the bundled default is the distilled student (or runs/distill/model from scripts/distill_default.sh)
row() { t2m evaluate --data "$DATA" --n "$N" --no-speed "$@"; }
row --model "$TEACHER" --steps 16 --shift 1 --precision float32 --vocoder griffin-lim --out "$R/old-default"
row --model "$TEACHER" --steps 16 --shift 1 --precision float32 --vocoder vocos --out "$R/old-default-vocos"
row --model "$TEACHER" --steps 8 --shift 3 --precision int8 --vocoder vocos --out "$R/teacher-8s3-int8-vocos"
row --model "$S" --steps 8 --shift 3 --precision float32 --vocoder vocos --out "$R/student-8s3-fp32-vocos"
row --model "$S" --steps 8 --shift 3 --precision int8 --vocoder vocos --out "$R/student-8s3-int8-vocos"
row --model "$S" --steps 12 --shift 3 --precision int8 --vocoder vocos --out "$R/student-12s3-int8-vocos"
row --model "$S" --steps 8 --shift 3 --precision int8 --vocoder griffin-lim --out "$R/student-8s3-int8-gl"
row --model "$S" --steps 8 --shift 3 --precision int8 --vocoder griffin-lim-32-nnls30 --out "$R/student-8s3-int8-gl30"
row --model "$S" --steps 8 --shift 1 --precision int8 --vocoder vocos --out "$R/student-8s1-int8-vocos"   # the new defaults
python3 bench/paired_bootstrap.py "$R/old-default" "$R/student-8s1-int8-vocos" --draws 200
