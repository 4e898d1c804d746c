#!/usr/bin/env bash
# The packaged full-band vocoder (text2music/assets/vocos-fullband/, `--vocoder vocos-fullband`): 48-kHz
# audio from the generator's 16-kHz 80-band mel. It starts as the packaged 16-kHz vocoder upsampled and
# learns the band above 8 kHz from real full-band audio: the synthetic corpus rendered at 44.1 kHz and
# real game music from Debian (not the reserved test packages). Reconstruction first, then Vocos'
# discriminators join. About 70 minutes of training on 2 CPU cores; re-running resumes the run.
#   bash scripts/train_vocoder_fullband.sh
#   MINUTES=300 RUN=runs/vocos-fullband-long bash scripts/train_vocoder_fullband.sh
set -euo pipefail
SYNTH=${SYNTH:-data/synth44k}
REAL=${REAL:-data/debian44k}
RUN=${RUN:-runs/vocos-fullband}
STEPS=${STEPS:-4000}
ADVERSARIAL_AFTER=${ADVERSARIAL_AFTER:-2500}
MINUTES=${MINUTES:-66}
DEST=${DEST:-text2music/assets/vocos-fullband}
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
python3 -m text2music data synth --production plain --n 4000 --out "$SYNTH" --sample-rate 44100 --jobs 2 --soundfont "$SOUNDFONT" --quiet
python3 -m text2music data debian --out "$REAL" --packages asc-music,hyperrogue-music,warzone2100-music \
    --sample-rate 44100 --no-labels --jobs 2 --quiet
python3 -m text2music train-vocoder --data "$SYNTH,$REAL" --out "$RUN" --sample-rate 48000 --init vocos \
    --clips 1000 --val-clips 8 --batch-size 8 --crop-frames 64 --lr 2e-4 --steps "$STEPS" --minutes "$MINUTES" \
    --adversarial 0.1 --adversarial-after "$ADVERSARIAL_AFTER" --checkpoint-every 100 --log-every 20
mkdir -p "$DEST"
python3 - "$RUN" "$DEST" <<'PY'
import sys, torch
from text2music.models.neural_vocoder import NeuralVocoder
NeuralVocoder.from_folder(sys.argv[1]).save(sys.argv[2], dtype=torch.float16)
print(f"exported {sys.argv[1]} -> {sys.argv[2]}/vocoder.safetensors (fp16)")
PY
