#!/usr/bin/env bash
# A default that gives drum-free guidance in one pass (issue 23): the shipped default's teacher
# (runs/flow_context_nopulse/last) distilled again, its target steered away from drums at scale 3 where
# the drums control is off (`text2music distill --drum-free-guidance`), into a student that starts from
# the shipped default (runs/distill_nopulse/model). The drum-free corpus is added so that a third of the
# rows are steered. Resumes; run it again with a larger MINUTES to go on. With TEACHER and STUDENT both the
# shipped default, the default learns its own steered velocity (self-distillation: the rows left unsteered
# keep their target, so they drift less). SCALE sets the scale learnt (3).
#   bash scripts/train_drum_free_student.sh          # 50 minutes on 2 cores
#   TEACHER=text2music/assets/default STUDENT=text2music/assets/default OUT=runs/distill_self bash scripts/train_drum_free_student.sh
set -euo pipefail
OUT=${OUT:-runs/distill_dfg}
TEACHER=${TEACHER:-runs/flow_context_nopulse/last}
STUDENT=${STUDENT:-runs/distill_nopulse/model}
if [ ! -f "$TEACHER/config.json" ] || [ ! -f "$STUDENT/config.json" ]; then
  echo "needs the default's teacher $TEACHER and student $STUDENT: bash scripts/train_nopulse_default.sh makes both" >&2
  exit 2
fi
[ -f data/synth/metadata.csv ] || { echo "data/synth is missing: bash scripts/install.sh builds it" >&2; exit 2; }
if [ ! -f data/synth_drumfree/metadata.csv ]; then   # the drum-free corpus of scripts/train_drumfree_default.sh
  SOUNDFONT=$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')
  python3 -m text2music data synth --production plain --n 1500 --seed 1 --drum-prob 0 --out data/synth_drumfree \
    --soundfont "$SOUNDFONT" --jobs 2 --quiet
fi
python3 -m text2music distill --data data/synth data/synth_drumfree --out "$OUT" --base "$TEACHER" --student-init "$STUDENT" \
  --minutes "${MINUTES:-50}" --lr "${LR:-5e-5}" --ema-decay 0.998 --drum-free-guidance "${SCALE:-3}" --quiet
