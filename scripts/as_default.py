"""Copy a trained model folder to OUT with the shipped default's runtime settings (its vocoder, sample
rate, precision and reverb send), so that a candidate is judged as the default would run it.

    python3 scripts/as_default.py runs/distill_real_mix/model runs/real_mix_candidate
"""

import json
import shutil
import sys
from pathlib import Path

RUNTIME = ("vocoder", "sample_rate", "precision", "reverb")


def main(student: str, out: str) -> None:
    shipped = json.loads((Path(__file__).parents[1] / "text2music/assets/default/config.json").read_text())
    shutil.copytree(student, out, dirs_exist_ok=True)
    config_path = Path(out) / "config.json"
    config = json.loads(config_path.read_text()) | {k: shipped[k] for k in RUNTIME}
    config_path.write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
