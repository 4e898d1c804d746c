#!/usr/bin/env bash
# Issue 23's rows (EVALUATION.md, "Issue 23"): the beat clicks and the drums heard on drum-free prompts,
# for the bundled model, the same weights with the pulse inputs zeroed, the controls teacher it was
# distilled from, and that teacher fine-tuned without pulses on the studio + real-music corpora
# (scripts/train_studio_default.sh); and FAD against held-out real music. Every evaluate resumes.
#   bash scripts/evaluate_studio.sh          # about 40 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/studio}
NEW=${NEW:-runs/flow_studio/last}
TEACHER=${TEACHER:-runs/teacher_default}
P=runs/default_nopulse   # the bundled weights, pulse inputs zeroed (its config says control_pulses: false)
t2m() { python3 -m text2music "$@"; }
mkdir -p "$P" && cp text2music/assets/default/model.safetensors "$P/"
python3 -c "import json; c = json.load(open('text2music/assets/default/config.json')); c['model']['control_pulses'] = False; json.dump(c, open('$P/config.json', 'w'), indent=2)"
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
row --model real --out "$R/real"
for c in text settings; do
  row --model default --controls $c --out "$R/default-$c"
  row --model "$P" --controls $c --out "$R/default-nopulse-$c"
done
row --model "$TEACHER" --vocoder vocos --controls settings --out "$R/teacher-settings"
row --model "$NEW" --vocoder vocos --controls settings --out "$R/studio-teacher-settings"
python3 bench/beat_clicks.py default "$P" "$TEACHER" "$NEW" --png docs/images/beat_clicks.png
# held-out real music: the test split of issue 14's nine packages (scripts/finetune_real_music.sh)
t2m evaluate --model real --data data/real --n 150 --no-speed --quiet --out "$R/real-music/real"
t2m evaluate --model default --data data/real --n 150 --no-speed --quiet --out "$R/real-music/default"
t2m evaluate --model "$NEW" --vocoder vocos --data data/real --n 150 --no-speed --quiet --out "$R/real-music/studio-teacher"
