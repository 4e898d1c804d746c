#!/usr/bin/env bash
# How the bundled default model (text2music/assets/default) was trained: on a lent GPU machine
# with no network, the whole job inside one time budget. Same steps as scripts/train_default.sh;
# what differs is only the setting:
#   - packages missing there travel as wheels in .whl/ (librosa, soundfile, soxr, tinysoundfont,
#     pretty_midi and their needs), installed with pip --no-index;
#   - the packaged MiniLM travels as an fp16 copy in .bert/ (the CPU package ships fp32; the
#     embeddings differ by < 0.005 on values up to 5), so the run's text_encoder is that folder;
#     the bundled config.json names all-MiniLM-L6-v2 again, the same weights;
#   - the inference weights come back in two halves (files back are capped at 16 MiB).
# Usage there: OUT=/some/folder BUDGET_S=500 bash scripts/gpu_train_default.sh
# The fine-tuning that followed (configs/flow_finetune.json, from the bundled weights), with the
# encoder carried as its used vocabulary only (scripts/prune_bert_vocab.py):
#   OUT=... BUDGET_S=230 N_CLIPS=12000 CONFIG=configs/flow_finetune.json BERT_PRUNED=.bert_pruned bash scripts/gpu_train_default.sh
set -euo pipefail
start=$(date +%s)
BUDGET_S=${BUDGET_S:-500}
OUT=${OUT:?set OUT to the folder that receives the weights and logs}
if [ -z "${SKIP_WHEELS:-}" ]; then  # SKIP_WHEELS=1: a machine that has the packages (a dry run on CPU)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || nproc) | tee "$OUT/device.txt"
DATA=/tmp/synth16k
CONFIG=${CONFIG:-configs/flow_default.json}
TEXT_ENCODER=$PWD/.bert
if [ -n "${BERT_PRUNED:-}" ]; then  # the vocabulary-pruned encoder (scripts/prune_bert_vocab.py)
    python3 scripts/prune_bert_vocab.py restore "$BERT_PRUNED" /tmp/bert
    TEXT_ENCODER=/tmp/bert
fi
t2m() { python3 -m text2music "$@"; }
t2m data synth --production plain --n "${N_CLIPS:-16000}" --out $DATA --jobs "$(nproc)" --quiet \
    --soundfont "$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')"
echo "corpus built at $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
t2m data preprocess $DATA --preset small --jobs "$(nproc)" --quiet
elapsed=$(( $(date +%s) - start ))
minutes=$(python3 -c "print(round(($BUDGET_S - $elapsed - 40) / 60, 2))")
echo "features at $elapsed s; training for $minutes min" | tee -a "$OUT/device.txt"
t2m train --config "$CONFIG" --quiet --set "features=$DATA/features/small" --set out=/tmp/run \
    --set "max_minutes=$minutes" --set "text_encoder=$TEXT_ENCODER" 2>&1 | grep -v "Loading weights" | tail -20
cp /tmp/run/log.jsonl /tmp/run/loss.png /tmp/run/train_config.json "$OUT/"
cp /tmp/run/last/config.json "$OUT/config.json"
python3 - "$OUT" <<'PY'
import sys
from safetensors.torch import load_file, save_file
out = sys.argv[1]
state = load_file("/tmp/run/last/model.safetensors")
keys = sorted(state)
half = len(keys) // 2
save_file({k: state[k] for k in keys[:half]}, f"{out}/model_a.safetensors")
save_file({k: state[k] for k in keys[half:]}, f"{out}/model_b.safetensors")
PY
echo "done at $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
