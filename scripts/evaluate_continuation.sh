#!/usr/bin/env bash
# Continuation's tempo and key against the target and against the truth (issue 24, eleventh
# session): the measured tempo of 5-s and 8-s prompts with and without the octave prior (valid split, where
# it was chosen, and test split), then the shipped default continuing the first 120 test clips, judged on the
# issue's lengths (8-s prompt, the next 2 s) and on the halves' (5-s prompt, the next 5 s), and with the true
# tempo and key as settings. Rows go to bench/results/pieces.jsonl.
#   bash scripts/evaluate_continuation.sh          # about 12 minutes on 2 cores
set -euo pipefail
D=${DATA:-data/synth}
[ -f "$D/manifest.jsonl" ] || python3 -m text2music data synth --production plain --n 4000 --out "$D" --jobs 2 --quiet
P="python3 bench/pieces.py"
$P prompt-tempo --data "$D" --split valid --n 200 --prompt-seconds 5
$P prompt-tempo --data "$D" --split test --n 120 --prompt-seconds 5
$P prompt-tempo --data "$D" --split test --n 120 --prompt-seconds 8
$P continuation --data "$D" --n 120 --model default
$P continuation --data "$D" --n 120 --model default --prompt-seconds 5 --after 5
$P continuation --data "$D" --n 120 --model default --prompt-seconds 5 --after 5 --given
