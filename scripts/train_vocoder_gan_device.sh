#!/usr/bin/env bash
# The full-band vocoder's adversarial run on a lent accelerator (issue 25): the packaged `vocos-fullband`
# trained further with Vocos' discriminators at their published size (`--discriminators full`), from the
# first step. Such a machine reaches no network and renders no soundfont, so its audio is carried: the first
# clips of the corpus rendered at 44.1 kHz and of the Debian game music, as Opus (scripts/carry_corpus.py),
# with the wheels of the Python packages its image lacks and the stage-1 vocoder it starts from (commit
# 4943c7f's `vocos-fullband`); about 55 MiB in all. What travels beside it must stay under the lent machine's
# 64 MiB: that call carried only the package's code (reports, docs, tests and the larger assets left out).
#   bash scripts/train_vocoder_gan_device.sh pack          # here: fills .carry/vocoder-gan
#   bash scripts/train_vocoder_gan_device.sh train         # there (carry .carry/vocoder-gan): writes $OUT
#   MINUTES=7 OUT=runs/vocos-gan bash scripts/train_vocoder_gan_device.sh train     # or on any CUDA machine
# `train` decodes the carried clips, trains for MINUTES, and writes the vocoder (float16), its log and its
# config to $OUT. Then, here: `bash scripts/evaluate_fullband.sh` with FULLBAND set to that folder.
set -euo pipefail
CARRY=${CARRY:-.carry/vocoder-gan}
CLIPS=${CLIPS:-124}
MINUTES=${MINUTES:-7.5}
OUT=${OUT:-runs/vocos-gan}
DEVICE=${DEVICE:-cuda}
case "${1:-}" in
pack)
  rm -rf "$CARRY"
  python3 scripts/carry_corpus.py pack data/synth44k "$CARRY/synth" --train "$CLIPS" --valid 8
  python3 scripts/carry_corpus.py pack data/debian44k "$CARRY/real" --train "$CLIPS" --valid 8
  mkdir -p "$CARRY/init"
  for f in vocoder.json vocoder.safetensors; do git show "4943c7f:text2music/assets/vocos-fullband/$f" > "$CARRY/init/$f"; done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$CARRY/wheels" \
    librosa==0.11.0 soundfile==0.14.0 soxr==1.1.0 auraloss==0.4.0 cffi==2.0.0 pycparser==3.0 audioread==3.1.0 \
    decorator==5.2.1 pooch==1.9.0 platformdirs==4.14.9
  du -sh "$CARRY"
  ;;
train)
  if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$CARRY"/wheels/*.whl
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONUNBUFFERED=1
  data=$(mktemp -d)
  trap 'rm -rf "$data"' EXIT
  python3 scripts/carry_corpus.py unpack "$CARRY/synth" "$data/synth"
  python3 scripts/carry_corpus.py unpack "$CARRY/real" "$data/real"
  run="$data/run"
  python3 -m text2music train-vocoder --data "$data/synth,$data/real" --out "$run" --sample-rate 48000 \
    --init "$CARRY/init" --device "$DEVICE" --discriminators full --adversarial 0.1 --adversarial-after 0 \
    --clips "$CLIPS" --val-clips 8 --batch-size 32 --crop-frames 64 --lr 2e-4 --steps 100000 --minutes "$MINUTES" \
    --checkpoint-every 1000 --log-every 100 --quiet
  mkdir -p "$OUT"
  python3 - "$run" "$OUT" <<'PY'
import shutil, sys, torch
from text2music.models.neural_vocoder import NeuralVocoder
NeuralVocoder.from_folder(sys.argv[1]).save(sys.argv[2], dtype=torch.float16)
for name in ("log.jsonl", "train_config.json", "loss.png"):
    shutil.copy(f"{sys.argv[1]}/{name}", sys.argv[2])
print(f"exported {sys.argv[1]} -> {sys.argv[2]} (float16)")
PY
  grep '"val"' "$OUT/log.jsonl" | tail -5
  tail -3 "$OUT/log.jsonl"
  ;;
*)
  echo "usage: bash scripts/train_vocoder_gan_device.sh pack|train" >&2
  exit 2
  ;;
esac
