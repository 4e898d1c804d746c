#!/usr/bin/env bash
# Drum-free guidance in the first steps only (the `drum_free_until` setting, issue 23's tenth session), and
# only its changes over time (`drum_free_part`), against the shipped default, which steers all of it at
# every step at 3 (reports/drum_free_guidance): the drum-free prompts of the 403 (bench/drum_free.py, three
# clips each, with the key of those that state one), how much the drum-free clips move against real ones,
# the leaderboard's 150 prompts with paired bootstraps, and the joins of 60-s pieces. The speed:
# python3 bench/bench_generate.py --drum-free (BENCHMARKS.md). Every evaluate resumes.
#   bash scripts/evaluate_drum_free_until.sh          # about an hour on 2 cores
set -euo pipefail
R=${REPORTS:-reports/drum_free_until}
B=reports/drum_free_guidance   # the every-step default's rows
EVERY="--drum-free-guidance 3 --drum-free-until 1"
t2m() { python3 -m text2music "$@"; }
row() { t2m evaluate --n 150 --no-speed --quiet "$@"; }
mkdir -p "$R"
if [ ! -d "$B/leaderboard-default/embeddings" ]; then   # a fresh machine: the paired bootstraps need its clips judged here
  B=runs/drum_free_guidance
  row --model default $EVERY --out "$B/leaderboard-default"
fi
VARIANTS="0.125,15 0.25,8 0.375,4 0.375,5 0.5,3"
systems() { echo "default,drum_free_until=1,drum_free_guidance=3"; for v in $VARIANTS; do echo "default,drum_free_until=${v%,*},drum_free_guidance=${v#*,}"; done; }
python3 bench/drum_free.py --n 403 --seeds 3 $(systems) | tee "$R/drum_free.jsonl"
python3 bench/drum_free.py --n 403 default,controls=settings,drum_free_until=1,drum_free_guidance=3 \
  default,controls=settings,drum_free_until=0.375,drum_free_guidance=4 | tee -a "$R/drum_free.jsonl"
t2m evaluate --model default --n 150 --no-speed --quiet --drum-free-guidance 0 --out "$R/unsteered"   # for the picture
python3 bench/drum_free.py real default default,drum_free_until=0.375,drum_free_guidance=4 default,drum_free_guidance=0 \
  | tee -a "$R/drum_free.jsonl"   # how much the clips move
for v in $VARIANTS; do
  u=${v%,*}; s=${v#*,}
  row --model default --drum-free-guidance "$s" --drum-free-until "$u" --out "$R/until$u-s$s"
  python3 bench/paired_bootstrap.py "$B/leaderboard-default" "$R/until$u-s$s" --draws 500 > "$R/bootstrap-until$u-s$s.txt"
done
python3 bench/pieces.py seams --n 20 --data data/synth --model default $EVERY | tee "$R/seams.txt"
for v in $VARIANTS; do
  python3 bench/pieces.py seams --n 20 --data data/synth --model default --drum-free-until "${v%,*}" --drum-free-guidance "${v#*,}" | tee -a "$R/seams.txt"
done
# the steering's changes over time only (`drum_free_part`), at 5
C=default,drum_free_part=changes,drum_free_guidance=5
python3 bench/drum_free.py --n 403 --seeds 3 "$C" | tee -a "$R/drum_free.jsonl"
python3 bench/drum_free.py --n 403 "default,controls=settings,drum_free_part=changes,drum_free_guidance=5" | tee -a "$R/drum_free.jsonl"
python3 bench/drum_free.py "$C" | tee -a "$R/drum_free.jsonl"
row --model default --drum-free-guidance 5 --drum-free-part changes --out "$R/changes-s5"
python3 bench/paired_bootstrap.py "$B/leaderboard-default" "$R/changes-s5" --draws 500 > "$R/bootstrap-changes-s5.txt"
python3 bench/pieces.py seams --n 20 --data data/synth --model default --drum-free-guidance 5 --drum-free-part changes | tee -a "$R/seams.txt"
python3 bench/report_spectrograms.py --data data/synth --n 150 --prompts 0 13 16 --out docs/images/drum_free_until.png \
  "unsteered=$R/unsteered" "every step at 3 (default)=$B/leaderboard-default" "first 3 steps at 4=$R/until0.375-s4"
