#!/usr/bin/env bash
# The default whose teacher learnt the drums control on a drum-free corpus of every genre
# (scripts/train_drumfree_default.sh) against the shipped default, as the default runs (8 steps, int8,
# vocos-fullband at 44.1 kHz):
#   1. the drums control: drum-free and drum prompts heard with or without drums, as the prompt asks and
#      with the control set against it (bench/drum_free.py), the teachers and the students;
#   2. the leaderboard's 150 prompts with controls from the text and as settings (drum-free prompts then set
#      --no-drums), each with a paired bootstrap against the shipped default's own rows (reports/nopulse);
#   3. the beat clicks of 4 drum-free prompts (the minuet's picture) and bar loops.
# Every evaluate resumes. `teachers` runs the teachers' rows of 1 alone (they need no student), `students` the rest.
#   bash scripts/evaluate_drumfree.sh          # about 45 minutes on 2 cores
set -euo pipefail
R=${REPORTS:-reports/drumfree}
OLD_TEACHER=runs/flow_context_nopulse/last
NEW_TEACHER=${TEACHER:-runs/flow_drumfree/last}
M=${CANDIDATE:-runs/drumfree_candidate}   # the student with the shipped default's runtime settings
t2m() { python3 -m text2music "$@"; }
STAGE=${1:-all}
mkdir -p "$R"
drums() { python3 bench/drum_free.py "$@" | tee -a "$R/drum_free.jsonl"; }
if [ "$STAGE" != students ]; then
  t=()
  for teacher in "$OLD_TEACHER" "$NEW_TEACHER"; do t+=("$teacher,steps=8,guidance=5,vocoder=vocos-fullband"); done
  drums "${t[@]}" "${t[0]},drums=on" "${t[1]},drums=on"
  drums --prompts drums --n 50 "${t[@]}" "${t[0]},drums=off" "${t[1]},drums=off"
fi
[ "$STAGE" = teachers ] && exit 0
python3 scripts/as_default.py "${STUDENT:-runs/distill_drumfree/model}" "$M"
drums default default,guidance=5 "$M" "$M,guidance=5"
drums --prompts drums --n 50 default default,drums=off "$M" "$M,drums=off"
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
row --model "$M" --out "$R/candidate"
row --model "$M" --controls settings --out "$R/candidate-settings"
python3 bench/paired_bootstrap.py reports/nopulse/leaderboard-default "$R/candidate" --draws 200 > "$R/bootstrap.txt"
python3 bench/paired_bootstrap.py reports/nopulse/candidate-settings "$R/candidate-settings" --draws 200 > "$R/bootstrap-settings.txt"
python3 bench/beat_clicks.py default "$M" --png docs/images/beat_clicks_drumfree.png | tee "$R/beat_clicks.txt"
python3 bench/loops.py --bars --n 12 --steps 8 --data data/synth --model "$M" | tee "$R/loops.txt"
