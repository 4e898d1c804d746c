#!/usr/bin/env bash
# A default without beat clicks (issue 23, step 1) that keeps the corpus's sound: the context teacher of
# stage 5 made again without the beat/downbeat pulse inputs (`control_pulses: false`, the cause of the
# clicks), then the guidance distilled into a one-pass student that starts from the shipped default.
#   A  the controls teacher (commit a7990cf) + a zero-initialised context input, fine-tuned with random
#      known-frame masks and no pulse inputs on the leaderboard's corpus (configs/flow_context_nopulse.json)
#   B  A's guided velocity distilled into a student that starts from the default of commit 7aee3fb
# Both stages run on the CPU and resume (scripts/train_context_default.sh, with these settings).
#   bash scripts/train_nopulse_default.sh                      # 35 + 30 minutes on 2 cores
#   MINUTES_A=120 MINUTES_B=90 bash scripts/train_nopulse_default.sh
set -euo pipefail
export CONFIG=configs/flow_context_nopulse.json STUDENT_COMMIT=7aee3fb
export DATA=${DATA:-data/synth} RATE=${RATE:-22050}   # the leaderboard's corpus, at `data synth`'s own rate
export STUDENT=${STUDENT:-runs/context_default}
export OUT_A=${OUT_A:-runs/flow_context_nopulse} OUT_B=${OUT_B:-runs/distill_nopulse}
exec bash scripts/train_context_default.sh
