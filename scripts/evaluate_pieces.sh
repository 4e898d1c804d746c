#!/usr/bin/env bash
# Issue 24's measurements (EVALUATION.md and BENCHMARKS.md, "Issue 24"): the context-aware candidate
# (scripts/train_context_default.sh) against the default it would replace, on 10-s clips (the
# leaderboard's 150 prompts, paired bootstrap), window joins of 60-s pieces, tempo, key and tag AUC
# per 10-s window of 120-s pieces, continuation, seamless bar loops, speed and memory.
# About 45 minutes on 2 cores; every evaluate resumes.
#   bash scripts/evaluate_pieces.sh
set -euo pipefail
R=${REPORTS:-reports/pieces}
OLD=${OLD:-runs/student_default}          # the bundled default of commit d5157a4
NEW=${NEW:-runs/distill_context/model}    # the candidate (a distilled folder runs as its student_init did: int8, neural vocoder)
t2m() { python3 -m text2music "$@"; }
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
t2m data synth --production plain --n 4000 --out data/synth --jobs 2 --soundfont "$SOUNDFONT" --quiet
t2m data synth --production plain --n 4000 --out data/synth16k --sample-rate 16000 --jobs 2 --soundfont "$SOUNDFONT" --quiet
C=(--steps 8 --shift 1 --precision int8 --vocoder vocos --data data/synth --n 150 --no-speed --quiet)
t2m evaluate --model "$OLD" "${C[@]}" --out "$R/old-default"
t2m evaluate --model "$NEW" "${C[@]}" --out "$R/candidate"
python3 bench/paired_bootstrap.py "$R/old-default" "$R/candidate" --draws 200 | tee "$R/bootstrap.txt"
for M in "$OLD" "$NEW"; do
  python3 bench/pieces.py seams --n 20 --model "$M" --png bench/results/pieces_seams.png
  python3 bench/pieces.py windows --n 8 --model "$M"
  python3 bench/pieces.py continuation --n 40 --model "$M"
  python3 bench/loops.py --bars --n 12 --steps 8 --model "$M"
  python3 bench/pieces.py speed --model "$M"
done
python3 bench/pieces.py pictures --model "$NEW"
