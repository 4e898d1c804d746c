#!/usr/bin/env bash
# Reproduce the seed's baselines on the offline corpus (docs/seed-reproduction.md).
# About 40 minutes on 2 CPU cores. Re-running resumes every step.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/synth1k}
EPOCHS=${EPOCHS:-20}
text2music data synth --n 1000 --out "$DATA" --seed 0 --jobs 2
text2music data preprocess "$DATA" --preset seed
for model in seed_lstm seed_transformer; do
  text2music train --config "configs/$model.json" --features "$DATA/features/seed" --out "runs/repro-$model" --epochs "$EPOCHS"
done
python3 scripts/seed_reproduction.py --features "$DATA/features/seed" \
  --runs runs/repro-seed_lstm runs/repro-seed_transformer --out docs/seed-reproduction
