#!/usr/bin/env bash
# Reproduce the seed's baselines on the offline corpus (docs/seed-reproduction.md).
# About 70 minutes on 2 CPU cores. Every step resumes: run it again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/synth1k}
EPOCHS=${EPOCHS:-20}
text2music data synth --production plain --n 1000 --out "$DATA" --seed 0 --jobs 2
text2music data preprocess "$DATA" --preset seed
# the seed's recipe (Adam lr 1e-5, cosine over the epochs, early stopping) for both models
for model in seed_lstm seed_transformer; do
  text2music train --config "configs/$model.json" --features "$DATA/features/seed" --out "runs/repro-$model" --epochs "$EPOCHS"
done
# the LSTM again with a 100x larger learning rate: does more optimisation make it music? (no)
text2music train --config configs/seed_lstm.json --features "$DATA/features/seed" --out runs/repro-seed_lstm-lr1e-3 \
  --epochs "$EPOCHS" --lr 1e-3
python3 scripts/seed_reproduction.py --features "$DATA/features/seed" \
  --runs runs/repro-seed_lstm runs/repro-seed_transformer runs/repro-seed_lstm-lr1e-3 --out docs/seed-reproduction
