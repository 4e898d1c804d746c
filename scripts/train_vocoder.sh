#!/usr/bin/env bash
# The packaged neural vocoder (text2music/assets/vocos/, `--vocoder vocos`), from nothing: the
# corpus, the training run on its train split (real mels in, real audio out), and the fp16 export.
# About 65 minutes of training on 2 quiet CPU cores; re-running resumes the run.
#   bash scripts/train_vocoder.sh
#   STEPS=20000 RUN=runs/vocos-long bash scripts/train_vocoder.sh     # a longer schedule
set -euo pipefail
DATA=${DATA:-data/synth}
RUN=${RUN:-runs/vocos}
STEPS=${STEPS:-7000}
DEST=${DEST:-text2music/assets/vocos}
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
python3 -m text2music data synth --production plain --n 4000 --out "$DATA" --jobs 2 --soundfont "$SOUNDFONT"
python3 -m text2music train-vocoder --data "$DATA" --out "$RUN" --clips 3300 --steps "$STEPS"
mkdir -p "$DEST"
python3 - "$RUN" "$DEST" <<'PY'
import sys, torch
from text2music.models.neural_vocoder import NeuralVocoder
NeuralVocoder.from_folder(sys.argv[1]).save(sys.argv[2], dtype=torch.float16)
print(f"exported {sys.argv[1]} -> {sys.argv[2]}/vocoder.safetensors (fp16)")
PY
