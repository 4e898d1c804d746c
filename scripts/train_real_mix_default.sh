#!/usr/bin/env bash
# Issue 23, fourth session: the shipped default's teacher fine-tuned on the leaderboard's corpus and the
# real-music corpus together (all weights, the real clips with their beat grids and chords, drum-free
# clips twice an epoch), then distilled again into a one-pass student that starts from the shipped default.
#   A  runs/flow_context_nopulse/last (the teacher of the shipped default; scripts/train_nopulse_default.sh)
#      on data/synth + data/real (configs/flow_real_mix.json; MINUTES_A)
#   B  A's guided velocity distilled over both corpora (`distill`; MINUTES_B)
# Both stages run on the CPU and resume: run the same command again (each budget counts over resumes).
#   bash scripts/train_real_mix_default.sh                     # 40 + 30 minutes on 2 cores
# CONFIG and REAL (any second corpus, built beforehand) train others the same way (scripts/train_drumfree_default.sh).
set -euo pipefail
SYNTH=${SYNTH:-data/synth}
REAL=${REAL:-data/real}
CONFIG=${CONFIG:-configs/flow_real_mix.json}
MINUTES_A=${MINUTES_A:-40}
MINUTES_B=${MINUTES_B:-30}
OUT_A=${OUT_A:-runs/flow_real_mix}
OUT_B=${OUT_B:-runs/distill_real_mix}
PACKAGES=naev-data,supertux-data,widelands-data,hedgewars-data,colobot-common-sounds,ironseed-data,marsshooter-data,tecnoballz-data,flare-game
t2m() { python3 -m text2music "$@"; }
[ -f runs/flow_context_nopulse/last/model.safetensors ] || bash scripts/train_nopulse_default.sh
[ -f "$REAL/manifest.jsonl" ] || bash scripts/real_music.sh "$REAL" --packages "$PACKAGES" --quiet   # issue 14's nine packages
t2m data preprocess "$SYNTH" --preset small --quiet
t2m data preprocess "$REAL" --preset small --quiet
export OMP_WAIT_POLICY=PASSIVE
t2m train --config "$CONFIG" --set features="[\"$SYNTH/features/small\", \"$REAL/features/small\"]" \
  --set out="$OUT_A" --set max_minutes="$MINUTES_A"
t2m distill --data "$SYNTH" "$REAL" --base "$OUT_A/last" --student-init text2music/assets/default --out "$OUT_B" \
  --minutes "$MINUTES_B" --lr 1e-4 --ema-decay 0.998 --quiet
echo "student: $OUT_B/model (text2music generate \"...\" --model $OUT_B/model)"
