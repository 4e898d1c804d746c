"""Real stereo music for the stereo upmixer (`text2music train-stereo`, bench/stereo.py), split by file.

    sudo apt-get update -q && nice -n 19 python3 scripts/stereo_data.py /tmp/stereo_music

Downloads the pinned Debian packages below (`text2music/data/assets/debian_music.tsv` names their
versions and music files), one at a time with `apt-get download`, unpacks each with `dpkg-deb -x`,
keeps its stereo music files (ogg; channels checked with soundfile) and deletes the package. Each
file goes to OUT/train/ or OUT/test/ by a hash of "package/path in the package" (about one in five
to test; a test file is never trained on); OUT/split.tsv records every file's split, channels,
rate and length. Tracker-module packages (ironseed-data, tecnoballz-data) are left out: soundfile
cannot read them and the import renders them in mono anyway. Reserved test music is refused by
`read_packages`. Re-running skips the packages already in split.tsv.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import soundfile as sf

from text2music.data.debian_music import download, music_files, read_packages
from text2music.utils import atomic_write_text

PACKAGES = ("supertux-data", "hedgewars-data", "colobot-common-sounds", "marsshooter-data", "flare-game")
TEST_SHARE = 5  # one file in TEST_SHARE (by hash) is a test file


def split_of(name: str) -> str:
    """ "test" or "train" for a file named "package/path", from its SHA-1 alone."""
    return "test" if int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % TEST_SHARE == 0 else "train"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for train/, test/ and split.tsv")
    args = parser.parse_args(argv)
    table = args.out / "split.tsv"
    rows = table.read_text().splitlines()[1:] if table.is_file() else []
    done = {r.split("\t")[0].split("/")[0] for r in rows}
    known = {p.package: p for p in read_packages()}
    for name in PACKAGES:
        if name in done:
            continue
        with tempfile.TemporaryDirectory(prefix="stereo-", dir=args.out.parent) as work:
            root = download(known[name], Path(work))
            for path in music_files(known[name], root):
                info = sf.info(path)
                rel = f"{name}/{path.relative_to(root)}"
                split = split_of(rel) if info.channels == 2 else "mono"
                if split != "mono":
                    target = args.out / split / f"{name}--{path.name}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                rows.append(f"{rel}\t{split}\t{info.channels}\t{info.samplerate}\t{info.duration:.1f}")
        atomic_write_text(table, "file\tsplit\tchannels\tsample_rate\tseconds\n" + "\n".join(rows) + "\n")
        print(f"{name}: {sum(r.startswith(name + '/') for r in rows)} files", file=sys.stderr)
    for split in ("train", "test", "mono"):
        chosen = [r for r in rows if r.split("\t")[1] == split]
        print(f"{split}: {len(chosen)} files, {sum(float(r.split(chr(9))[4]) for r in chosen) / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
