#!/usr/bin/env bash
# Issue 23, fourteenth session: how close to held-out real music a system that writes new music can get,
# and the 20-minute game-music adapter against the shipped default (room at 0.3, drum-free adapter).
# The held-out rows use issue 14's 150 test prompts (data/real: `scripts/real_music.sh ... --splits test`).
# The other tracks of the same nine packages (their train and valid splits, 3,380 clips) are imported
# into their own folder, labelled with beat grids and chords, judged as the `real:` row, and trained on.
# Every step resumes.
#   bash scripts/evaluate_other_tracks.sh          # about 110 minutes on 2 cores (data/synth for --mix)
set -euo pipefail
R=${REPORTS:-reports/other_tracks}
REST=${REST:-data/real_rest}
ADAPTER=${ADAPTER:-runs/adapter-real-room}
MIXED=${MIXED:-runs/adapter-real-mix}
PACKAGES=naev-data,supertux-data,widelands-data,hedgewars-data,colobot-common-sounds,ironseed-data,marsshooter-data,tecnoballz-data,flare-game
t2m() { python3 -m text2music "$@"; }
row() { t2m evaluate --data data/real --n 150 --no-speed --quiet "$@"; }
bash scripts/real_music.sh "$REST" --packages "$PACKAGES" --splits train,valid --no-labels --quiet
row --model "real:$REST" --out "$R/real-other-tracks"
row --model default --out "$R/default"
python3 bench/paired_bootstrap.py "$R/real-other-tracks" "$R/default" --draws 300 > "$R/bootstrap-default.txt"
python3 bench/other_track_draws.py --corpus "$REST" --reference "$R/_reference-real-test" --draws 2
row --model default --guidance 2 --out "$R/default-guidance2"
row --model default --guidance 4 --out "$R/default-guidance4"
t2m data label --data "$REST" --quiet
t2m finetune --data "$REST" --out "$ADAPTER" --minutes 20 --quiet
row --model default --adapter "$ADAPTER" --out "$R/default-adapter"
row --model default --adapter "$ADAPTER" --reverb 0 --out "$R/default-adapter-dry"
python3 bench/paired_bootstrap.py "$R/default" "$R/default-adapter" --draws 300 > "$R/bootstrap-adapter.txt"
t2m finetune --data "$REST" --mix data/synth --out "$MIXED" --minutes 20 --quiet
row --model default --adapter "$MIXED" --out "$R/default-adapter-mix"
python3 bench/paired_bootstrap.py "$R/default" "$R/default-adapter-mix" --draws 300 > "$R/bootstrap-adapter-mix.txt"
python3 bench/beat_clicks.py default "default,adapter=$ADAPTER" "default,adapter=$MIXED"
python3 bench/broadband_frames.py --data data/real "another track of the same game=$R/real-other-tracks" "shipped default=$R/default" \
  "+ the 20-minute adapter=$R/default-adapter" "+ the adapter with the synthetic corpus mixed in=$R/default-adapter-mix" \
  "guidance 2=$R/default-guidance2" "guidance 4=$R/default-guidance4"
