#!/usr/bin/env bash
# The first leaderboard (EVALUATION.md, History, "Issues 5 and 6"), from nothing: the corpus, every system's
# report on all 403 test prompts, and their table in $REPORTS/leaderboard-403.md. EVALUATION.md's current
# table comes from scripts/leaderboard.sh.
# About 40 minutes on 2 CPU cores (most of it generating and judging 403 x 10-s clips per model).
#   bash scripts/evaluate_all.sh            N=403 (the whole test split of the 4,000-clip corpus)
# Run it alone: two torch processes on 2 cores slow each other down many times over (OpenMP
# threads wait for each other); with other work running, set OMP_NUM_THREADS=1.
set -euo pipefail
N=${N:-403}
N_MC=${N_MC:-200}
DATA=${DATA:-data/synth}
R=${REPORTS:-reports}
t2m() { python3 -m text2music "$@"; }
# The soundfont is pinned: the bundled model trained on TimGM6mb (pretty_midi's), and without
# --soundfont the corpus would use FluidR3_GM wherever it is installed. A corpus folder built with
# another soundfont is refused here (rebuild it, or set DATA to another folder); each report's
# metrics.json records the soundfont its corpus was rendered with.
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
t2m data synth --production plain --n 4000 --out "$DATA" --jobs 2 --soundfont "$SOUNDFONT"   # resumes: a built corpus is only checked
# the seed baselines (docs/seed-reproduction.md; scripts/reproduce_seed.sh trains them)
LSTM=${LSTM:-runs/repro-seed_lstm/best}
TRANSFORMER=${TRANSFORMER:-runs/repro-seed_transformer/best}

t2m evaluate --model real    --data "$DATA" --n "$N" --out "$R/real"
t2m evaluate --model vocoder --data "$DATA" --n "$N" --out "$R/vocoder"
t2m evaluate --model "$LSTM"        --data "$DATA" --n "$N" --out "$R/seed-lstm"
t2m evaluate --model "$TRANSFORMER" --data "$DATA" --n "$N" --out "$R/seed-transformer"
t2m evaluate --model default --data "$DATA" --n "$N" --out "$R/flow-default-gl"   # the bundled model as shipped (Griffin-Lim)
# real MusicCaps captions (text only: adherence, no FAD)
t2m evaluate --model "$LSTM" --prompts musiccaps --n "$N_MC" --out "$R/musiccaps-seed-lstm" --no-speed
t2m evaluate --model default --prompts musiccaps --n "$N_MC" --out "$R/musiccaps-flow-default-gl" --no-speed
t2m leaderboard "$R/real" "$R/vocoder" "$R/seed-lstm" "$R/seed-transformer" "$R/flow-default-gl" -o "$R/leaderboard-403.md"
