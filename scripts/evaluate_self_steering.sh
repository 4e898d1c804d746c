#!/usr/bin/env bash
# The default that taught itself drum-free guidance at 2.5 and gives it in one pass (issue 23, eleventh
# session; not shipped), against the shipped default, which steers at 3 with a second pass: drum-free prompts
# heard drum-free (95 of the 403, three clips each, from the text and with the true controls as settings),
# drum prompts heard with drums, the joins of 60-s pieces, the leaderboard's 150 prompts with a paired
# bootstrap (meter included), and the speed of a drum-free clip. Every evaluate resumes.
#   TEACHER=text2music/assets/default STUDENT=text2music/assets/default OUT=runs/distill_self25 SCALE=2.5 \
#     MINUTES=30 bash scripts/train_drum_free_student.sh      # the candidate's weights: 30 minutes
#   bash scripts/evaluate_self_steering.sh                   # about 35 minutes on 2 cores
# The same rows for the default's steering learnt in an adapter (twelfth session, scripts/train_drum_free_adapter.sh):
#   STUDENT=runs/distill_dfa/model CANDIDATE=runs/dfa_candidate REPORTS=reports/drum_free_adapter bash scripts/evaluate_self_steering.sh
set -euo pipefail
R=${REPORTS:-reports/drum_free_self25}
M=${CANDIDATE:-runs/self25_candidate}
B=reports/drum_free_guidance   # the shipped default's leaderboard row
if [ ! -d "$B/leaderboard-default/embeddings" ]; then   # a fresh machine: the paired bootstrap needs its clips judged here
  B=runs/drum_free_guidance
  python3 -m text2music evaluate --model default --n 150 --no-speed --quiet --out "$B/leaderboard-default"
fi
mkdir -p "$R"
python3 scripts/as_default.py "${STUDENT:-runs/distill_self25/model}" "$M"
python3 bench/drum_free.py --n 403 --seeds 3 default "$M" | tee "$R/drum_free.jsonl"
python3 bench/drum_free.py --n 403 --seeds 3 default,controls=settings "$M,controls=settings" | tee -a "$R/drum_free.jsonl"
python3 bench/drum_free.py --prompts drums --n 50 "$M" | tee -a "$R/drum_free.jsonl"
python3 bench/pieces.py seams --n 20 --data data/synth --model "$M" | tee "$R/seams.txt"
python3 -m text2music evaluate --model "$M" --n 150 --no-speed --quiet --out "$R/candidate"
python3 bench/paired_bootstrap.py "$B/leaderboard-default" "$R/candidate" --draws 500 > "$R/bootstrap.txt"
python3 bench/bench_generate.py --drum-free "$M"
