#!/usr/bin/env bash
# Train the bundled default model from nothing: build the offline corpus, make its mel features,
# train the flow transformer (configs/flow_default.json), and copy the inference weights out.
#
#   bash scripts/train_default.sh                 # the recorded run: 16,000 clips, 7 minutes
#   N_CLIPS=200 MINUTES=1 bash scripts/train_default.sh   # a quick look
#
# The default model was trained on one GPU (see models/default/TRAINING.md); on the 2-core CPU
# the same command runs, with far fewer steps in the same minutes.
set -euo pipefail
N_CLIPS=${N_CLIPS:-16000}
JOBS=${JOBS:-$(nproc)}
MINUTES=${MINUTES:-7}
DATA=${DATA:-data/synth16k}
RUN=${RUN:-runs/flow_default}
TEXT_ENCODER=${TEXT_ENCODER:-all-MiniLM-L6-v2}
shift_args=("$@")

t2m() { python3 -m text2music "$@"; }
t2m data synth --production plain --n "$N_CLIPS" --out "$DATA" --jobs "$JOBS" --soundfont "$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')"
t2m data preprocess "$DATA" --preset small --jobs "$JOBS"
t2m train --config configs/flow_default.json --set "features=$DATA/features/small" --set "out=$RUN" \
    --set "max_minutes=$MINUTES" --set "text_encoder=$TEXT_ENCODER" "${shift_args[@]}"
