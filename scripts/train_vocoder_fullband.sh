#!/usr/bin/env bash
# The packaged full-band vocoder (text2music/assets/vocos-fullband/, `--vocoder vocos-fullband`): 48-kHz
# audio from the generator's 16-kHz 80-band mel. It starts as the packaged 16-kHz vocoder upsampled and
# learns the band above 8 kHz from real full-band audio: the synthetic corpus rendered at 44.1 kHz and
# real game music from Debian (not the reserved test packages). Reconstruction first, then Vocos'
# discriminators join. About 70 minutes of training on 2 CPU cores; re-running resumes the run.
#   bash scripts/train_vocoder_fullband.sh
#   MINUTES=300 RUN=runs/vocos-fullband-long bash scripts/train_vocoder_fullband.sh
# A branch of its own for the band above 8 kHz, trained alone on the same clips (the band below stays
# exactly the packaged vocoder's):
#   INIT=vocos-fullband TRAIN="--high-layers 4 --high-band-only" BATCH=16 LR=5e-4 STEPS=7000 MINUTES=70 CHECKPOINT_EVERY=500 \
#     RUN=runs/vocos-fullband-branch DEST=runs/vocos-fullband-branch-export bash scripts/train_vocoder_fullband.sh
set -euo pipefail
SYNTH=${SYNTH:-data/synth44k}
REAL=${REAL:-data/debian44k}
RUN=${RUN:-runs/vocos-fullband}
STEPS=${STEPS:-4000}
ADVERSARIAL_AFTER=${ADVERSARIAL_AFTER:-2500}
MINUTES=${MINUTES:-66}
INIT=${INIT:-vocos}
BATCH=${BATCH:-8}
LR=${LR:-2e-4}
TRAIN=${TRAIN:-"--adversarial 0.1 --adversarial-after $ADVERSARIAL_AFTER"}
DEST=${DEST:-text2music/assets/vocos-fullband}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-100}
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
python3 -m text2music data synth --production plain --n 4000 --out "$SYNTH" --sample-rate 44100 --jobs 2 --soundfont "$SOUNDFONT" --quiet
python3 -m text2music data debian --out "$REAL" --packages asc-music,hyperrogue-music,warzone2100-music \
    --sample-rate 44100 --no-labels --jobs 2 --quiet
# shellcheck disable=SC2086  # TRAIN is a list of flags
python3 -m text2music train-vocoder --data "$SYNTH,$REAL" --out "$RUN" --sample-rate 48000 --init "$INIT" \
    --clips 1000 --val-clips 8 --batch-size "$BATCH" --crop-frames 64 --lr "$LR" --steps "$STEPS" --minutes "$MINUTES" \
    $TRAIN --checkpoint-every "$CHECKPOINT_EVERY" --log-every 20
mkdir -p "$DEST"
python3 - "$RUN" "$DEST" <<'PY'
import sys, torch
from text2music.models.neural_vocoder import NeuralVocoder
NeuralVocoder.from_folder(sys.argv[1]).save(sys.argv[2], dtype=torch.float16)
print(f"exported {sys.argv[1]} -> {sys.argv[2]}/vocoder.safetensors (fp16)")
PY
