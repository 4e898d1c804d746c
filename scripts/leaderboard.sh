#!/usr/bin/env bash
# The first table of EVALUATION.md (between its leaderboard markers), from report folders already made:
#   bash scripts/leaderboard.sh             # seconds; reads each folder's metrics.json
# Every row is on the same prompts (the first 150 test prompts of the 4,000-clip corpus, TimGM6mb) and the
# same judges (salience key finder, meter judge). The folders come from:
#   shipped default   text2music evaluate --model default --n 150 --out reports/reverb/leaderboard-default
#                     (issue 23, thirteenth session: the same weights, the room of the prompt's genre at send 0.3)
#   --reverb 1        text2music evaluate --model default --reverb 1.0 --n 150 --out reports/reverb/leaderboard-default-reverb
#   previous default  text2music evaluate --model default --reverb 0 --n 150 --out reports/drum_free_adapter25/leaderboard-default
#                     (issue 23, twelfth session: drum-free guidance 2.5 learnt in an adapter, one pass; made before the room)
#   the one before    scripts/evaluate_drum_free_guidance.sh (issue 23: the same student with drum-free guidance, 3)
#   and before        scripts/evaluate_nopulse.sh   (issue 23: the student re-made without pulse inputs; full-band vocoder, 44.1 kHz)
#   and before that   scripts/evaluate_fullband.sh  (issue 25: the context-trained student through the full-band vocoder, 44.1 kHz)
#   earlier           scripts/evaluate_pieces.sh    (issue 24: the same student; 8 uniform steps, int8, 16-kHz neural vocoder)
#   issue 15          scripts/evaluate_speed.sh     (issue 15: the distilled model, same settings)
# Commands of rows made before the room existed (`--model default` among them) ran dry: add --reverb 0 to make them again.
#   the default before distillation  scripts/evaluate_vocoders.sh  (16 steps with guidance, Griffin-Lim NNLS 300, float32)
#   real, vocoder     scripts/evaluate_controls.sh  (the corpus's own clips; real mel -> Griffin-Lim NNLS 30)
#   seed baselines    scripts/evaluate_seed_rows.sh (the seed's LSTM and transformer, its recipe on 1,000 clips)
# A new default: evaluate it on the same prompts (--n 150), put its folder first, and run this again.
set -euo pipefail
R=${REPORTS:-reports}
python3 -m text2music leaderboard \
  "shipped default: the room of the prompt's genre at send 0.3, drum-free guidance 2.5 learnt in an adapter (one pass), no pulse inputs, context, distilled, 8 steps, int8, full-band vocoder (44.1 kHz)=$R/reverb/leaderboard-default" \
  "the same with --reverb 1 (all of the clip sent to the room)=$R/reverb/leaderboard-default-reverb" \
  "previous default: the same, dry (--reverb 0)=$R/drum_free_adapter25/leaderboard-default" \
  "the one before: the same weights, drum-free guidance 3 by a second pass=$R/drum_free_guidance/leaderboard-default" \
  "and before: the same without drum-free guidance=$R/nopulse/leaderboard-default" \
  "and before that: the same, with pulse inputs=$R/full_band/leaderboard-default" \
  "earlier: through the 16-kHz neural vocoder=$R/pieces/candidate" \
  "the default of issue 15: distilled, 8 steps, int8, neural vocoder=$R/speed/student-8s1-int8-vocos" \
  "the default before distillation: 16 steps, guidance 3, Griffin-Lim=$R/vocoders/flow-default-griffin-lim" \
  "the default before musical controls=$R/controls/flow-previous-gl" \
  "seed baseline: BERT -> LSTM, MSE=$R/seed/lstm" \
  "seed baseline: BERT -> transformer, MSE=$R/seed/transformer" \
  "real audio (the ceiling)=$R/controls/real" \
  "real mel -> Griffin-Lim (vocoder floor)=$R/controls/vocoder" \
  -o "${OUT:-EVALUATION.md}"
