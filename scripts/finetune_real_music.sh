#!/usr/bin/env bash
# Issue 14's numbers (EVALUATION.md, "Your own music"): build part of the real-music corpus from Debian
# packages, fine-tune the bundled model on its train split for 20 CPU minutes as a LoRA adapter, then
# judge the bundled model with and without the adapter on held-out tracks (the test split: whole files
# never trained on), prompts = those clips' automatic captions. About 1 h 45 min on 2 CPU cores.
#   bash scripts/finetune_real_music.sh                 # corpus in data/real, adapter in runs/adapter-real
#   PACKAGES=all bash scripts/finetune_real_music.sh    # the whole pinned list (about 38 h of music, hours to import)
set -euo pipefail
DATA=${DATA:-data/real}
ADAPTER=${ADAPTER:-runs/adapter-real}
MINUTES=${MINUTES:-20}
N=${N:-100}
R=${REPORTS:-reports/real-music}
PACKAGES=${PACKAGES:-naev-data,supertux-data,widelands-data,hedgewars-data,colobot-common-sounds,ironseed-data,marsshooter-data,tecnoballz-data,flare-game}
t2m() { python3 -m text2music "$@"; }
if [ "$PACKAGES" = all ]; then bash scripts/real_music.sh "$DATA"; else bash scripts/real_music.sh "$DATA" --packages "$PACKAGES"; fi
t2m finetune --data "$DATA" --out "$ADAPTER" --minutes "$MINUTES"
t2m evaluate --model real                         --data "$DATA" --n "$N" --out "$R/real"
t2m evaluate --model default                      --data "$DATA" --n "$N" --out "$R/default" --no-speed
t2m evaluate --model default --adapter "$ADAPTER" --data "$DATA" --n "$N" --out "$R/default-adapter" --no-speed
