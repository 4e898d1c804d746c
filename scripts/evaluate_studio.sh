#!/usr/bin/env bash
# Issue 23's rows (EVALUATION.md, "Issue 23"): the beat clicks and the drums heard on drum-free prompts,
# for the bundled model, the same weights with the pulse inputs zeroed, the controls teacher it was
# distilled from, and that teacher fine-tuned without pulses on the studio + real-music corpora
# (scripts/train_studio_default.sh); and FAD against held-out real music. Every evaluate resumes.
# Then the candidate default (stage C of scripts/train_studio_default.sh: the labelled teacher, distilled) at the
# bundled settings, on the leaderboard's prompts, as settings, and on held-out real music.
#   bash scripts/evaluate_studio.sh          # about 70 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/studio}
NEW=${NEW:-runs/flow_studio/last}
LABELLED=${LABELLED:-runs/flow_studio_labelled/last}
STUDENT=${STUDENT:-runs/distill_studio/model}
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
# the candidate: 8 steps, shift 1, int8, neural vocoder, as the bundled default runs
C=(--model "$STUDENT" --steps 8 --shift 1 --precision int8 --vocoder vocos)
t2m evaluate "${C[@]}" --data data/synth --n 150 --no-speed --quiet --out "$R/candidate"
row "${C[@]}" --controls settings --out "$R/candidate-settings"
t2m evaluate "${C[@]}" --data data/real --n 150 --no-speed --quiet --out "$R/real-music/candidate"
t2m evaluate --model "$LABELLED" --vocoder vocos --data data/real --n 150 --no-speed --quiet --out "$R/real-music/labelled-teacher"
python3 bench/paired_bootstrap.py "$R/default-text" "$R/candidate" --draws 200   # the shipped default, made above
python3 bench/paired_bootstrap.py "$R/real-music/default" "$R/real-music/candidate" --draws 200
