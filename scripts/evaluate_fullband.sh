#!/usr/bin/env bash
# Issue 25's rows (EVALUATION.md, "Issue 25: full band"): real mel -> vocoder on all 403 test prompts of the
# corpus rendered at 44.1 kHz, and on reserved real music never trained on (singularity-music, every clip);
# then the bundled generator with today's 16-kHz vocoder and with the full-band one on the leaderboard's 150
# prompts. The judges hear 16 kHz; the full-band measures (log-spectral distance per band, energy above
# 8 kHz, flatness) read each clip at its own rate. About 45 minutes on 2 CPU cores; re-running resumes.
#   bash scripts/evaluate_fullband.sh                          # reports under reports/full_band/
#   FULLBAND=runs/vocos-fullband bash scripts/evaluate_fullband.sh
set -euo pipefail
N=${N:-403}
N_MODEL=${N_MODEL:-150}
SYNTH44=${SYNTH44:-data/synth44k}
RESERVED=${RESERVED:-data/reserved44k}
R=${REPORTS:-reports/full_band}
FULLBAND=${FULLBAND:-vocos-fullband}
t2m() { python3 -m text2music "$@"; }
SOUNDFONT=${SOUNDFONT:-$(python3 -c 'from text2music.data.synth.render import bundled_soundfont as b; print(b())')}
t2m data synth --production plain --n 4000 --out "$SYNTH44" --sample-rate 44100 --jobs 2 --soundfont "$SOUNDFONT" --quiet
t2m data synth --production plain --n 4000 --out data/synth --jobs 2 --soundfont "$SOUNDFONT" --quiet   # the leaderboard's
if [ ! -f "$RESERVED/manifest.jsonl" ]; then   # reserved test music: `data debian` refuses it, so it is fetched here
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download singularity-music >/dev/null && dpkg-deb -x singularity-music_*.deb root)
  t2m data import "$work/root/usr/share/games/singularity/music" --out "$RESERVED" --sample-rate 44100 --no-labels \
    --describe "science fiction strategy video game soundtrack" --jobs 2 --quiet
fi
# vocoder-only rows: the corpus at 44.1 kHz
t2m evaluate --model real                                   --data "$SYNTH44" --n "$N" --out "$R/synth/real"
t2m evaluate --model vocoder                                --data "$SYNTH44" --n "$N" --out "$R/synth/griffin-lim"
t2m evaluate --model vocoder:vocos                          --data "$SYNTH44" --n "$N" --out "$R/synth/vocos-16k"
t2m evaluate --model vocoder:vocos --sample-rate 44100      --data "$SYNTH44" --n "$N" --out "$R/synth/vocos-16k-upsampled"
t2m evaluate --model "vocoder:$FULLBAND"                    --data "$SYNTH44" --n "$N" --out "$R/synth/fullband"
# vocoder-only rows: reserved real music
t2m evaluate --model real                                   --data "$RESERVED" --split all --n 200 --out "$R/reserved/real"
t2m evaluate --model vocoder:vocos                          --data "$RESERVED" --split all --n 200 --out "$R/reserved/vocos-16k"
t2m evaluate --model vocoder:vocos --sample-rate 44100      --data "$RESERVED" --split all --n 200 --out "$R/reserved/vocos-16k-upsampled"
t2m evaluate --model "vocoder:$FULLBAND"                    --data "$RESERVED" --split all --n 200 --out "$R/reserved/fullband"
# the bundled generator (its int8 weights, 8 steps): today's 16-kHz vocoder against the full-band one, on the
# leaderboard's prompts rendered at 44.1 kHz (the real side of the full-band measures); then the leaderboard's row
t2m evaluate --model default --vocoder vocos                --data "$SYNTH44" --n "$N_MODEL" --out "$R/model/vocos-16k"
t2m evaluate --model default --vocoder "$FULLBAND"          --data "$SYNTH44" --n "$N_MODEL" --out "$R/model/fullband"
t2m evaluate --model default                                --data data/synth --n "$N_MODEL" --out "$R/leaderboard-default"
for pair in synth/vocos-16k:synth/fullband reserved/vocos-16k:reserved/fullband model/vocos-16k:model/fullband; do
  python3 bench/paired_bootstrap.py "$R/${pair%%:*}" "$R/${pair##*:}" --draws 200 > "$R/${pair%%/*}/bootstrap.txt"
done
