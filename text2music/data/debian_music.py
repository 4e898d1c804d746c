"""A real-music corpus from Debian packages: freely licensed game soundtracks and tracker music.

`assets/debian_music.tsv` pins each package (version, where its music lies, licence,
attribution, a short description for the captions). `build_real_music` downloads one package at
a time with `apt-get download` into a temporary folder, unpacks it with `dpkg-deb -x`, takes the
music files (from zip/pk3 archives too), imports them with `data import` (the package's
description starts every caption) and deletes the package. The corpus gets ATTRIBUTION.md with
every package's licence and authors; a model or adapter trained on it carries that file along.

Packages reserved as independent test music are refused (`RESERVED`): never train on them.
Re-running resumes: finished packages are listed in OUT/packages.json.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import logging
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from text2music.data.audio_import import ImportConfig, check_splits, import_audio
from text2music.utils import atomic_write_text

log = logging.getLogger(__name__)

PACKAGE_LIST = Path(__file__).resolve().parent / "assets" / "debian_music.tsv"
RESERVED = (r"wesnoth-.*-music", r"wesnoth-music", r"singularity-music", r"nexuiz-music", r"fretsonfire-songs-.*")
COLUMNS = ("package", "version", "music", "licence", "attribution", "describe", "hours")


@dataclass(frozen=True)
class MusicPackage:
    package: str
    version: str
    music: tuple[str, ...]  # globs under the unpacked root; ARCHIVE!MEMBER_GLOB for music inside zip/pk3 files
    licence: str
    attribution: str
    describe: str
    hours: float


def is_reserved(package: str) -> bool:
    return any(re.fullmatch(p, package) for p in RESERVED)


def read_packages(path: str | Path = PACKAGE_LIST) -> list[MusicPackage]:
    """The pinned package list (TSV; '#' lines are comments); one-line errors name file and row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"package list not found: {path}")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    if not rows or any(c not in rows[0] for c in COLUMNS):
        raise ValueError(f"{path}: needs the tab-separated columns {', '.join(COLUMNS)}")
    packages = []
    for i, row in enumerate(rows, start=2):
        if is_reserved(row["package"]):
            raise ValueError(f"{path}, row {i}: {row['package']} is reserved as independent test music and must never be trained on")
        try:
            hours = float(row["hours"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}, row {i}: hours must be a number, got {row['hours']!r}") from None
        music = tuple((row["music"] or "").split())
        if not music:
            raise ValueError(f"{path}, row {i}: no music paths for {row['package']}")
        packages.append(MusicPackage(row["package"], row["version"], music, row["licence"], row["attribution"], row["describe"], hours))
    return packages


def select(packages: list[MusicPackage], names: list[str] | None, max_hours: float | None) -> list[MusicPackage]:
    """The named packages (all when None), most hours first, up to `max_hours` of music."""
    if names:
        known = {p.package: p for p in packages}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"--packages: {', '.join(unknown)} not in the package list ({PACKAGE_LIST.name})")
        packages = [known[n] for n in names]
    chosen, total = [], 0.0
    for p in sorted(packages, key=lambda p: -p.hours):
        if max_hours is not None and total + p.hours > max_hours and chosen:
            continue
        chosen.append(p)
        total += p.hours
    return chosen


def download(pkg: MusicPackage, work: Path) -> Path:
    """apt-get download the pinned version into `work`, unpack it there; returns the root."""
    spec = f"{pkg.package}={pkg.version}"
    proc = subprocess.run(["apt-get", "download", spec], cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise RuntimeError(f"apt-get download {spec}: {reason} (run `apt-get update` first, as root)")
    deb = next(work.glob(f"{pkg.package}_*.deb"))
    root = work / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, capture_output=True)
    deb.unlink()
    return root


def music_files(pkg: MusicPackage, root: Path) -> list[Path]:
    """The package's music: files matching its globs, and archive members extracted beside them."""
    files: list[Path] = []
    for pattern in pkg.music:
        archive, _, member_glob = pattern.partition("!")
        if not member_glob:
            files += sorted(p for p in root.glob(pattern) if p.is_file())
            continue
        for zip_path in sorted(root.glob(archive)):
            target = root.parent / "extracted" / zip_path.name
            with zipfile.ZipFile(zip_path) as z:
                for name in z.namelist():
                    if fnmatch.fnmatch(name, member_glob) and not name.endswith("/"):
                        files.append(Path(z.extract(name, target)))
    return files


def attribution_text(packages: list[MusicPackage]) -> str:
    lines = [
        "# Attribution of the music in this corpus",
        "",
        "Music from Debian packages (bookworm, main), used under each package's licence (its",
        "`/usr/share/doc/PACKAGE/copyright`). Anything trained on this corpus derives from this music:",
        "keep this file with it.",
        "",
        "| package | version | licence | authors | hours |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {p.package} | {p.version} | {p.licence} | {p.attribution} | {p.hours:.2f} |" for p in packages]
    return "\n".join(lines) + "\n"


def choose_packages(names: list[str] | None, max_hours: float | None, package_list: str | Path = PACKAGE_LIST) -> list[MusicPackage]:
    """The packages a build takes; one-line errors for a bad list or name, or no apt-get, before anything is written."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError("building the real-music corpus needs Debian's apt-get and dpkg-deb")
    return select(read_packages(package_list), names, max_hours)


def _done_marker(version: str, splits: tuple[str, ...] | None) -> str:
    """What packages.json records for a package imported whole (its version) or in part."""
    return version if splits is None else f"{version} ({'+'.join(sorted(splits))} only)"


def build_real_music(
    out: str | Path,
    names: list[str] | None = None,
    max_hours: float | None = None,
    cfg: ImportConfig = ImportConfig(),
    jobs: int = 2,
    package_list: str | Path = PACKAGE_LIST,
    progress: bool = True,
    labels: bool = True,
    splits: tuple[str, ...] | None = None,
) -> dict:
    """Download, import and delete each chosen package in turn (see the module docstring); with
    `splits`, only the files of those splits (a package done so is done again, for the rest,
    by a run without it)."""
    chosen = choose_packages(names, max_hours, package_list)
    check_splits(splits)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done_path = out / "packages.json"
    done = json.loads(done_path.read_text()) if done_path.exists() else {}
    work = out / ".package"  # the package being imported; what a killed run left is removed here
    shutil.rmtree(work, ignore_errors=True)
    for i, pkg in enumerate(chosen, start=1):
        if done.get(pkg.package) in (pkg.version, _done_marker(pkg.version, splits)):
            continue
        log.info("real music: package %d/%d %s %s (%.2f h)", i, len(chosen), pkg.package, pkg.version, pkg.hours)
        if progress:
            print(f"[{i}/{len(chosen)}] {pkg.package} {pkg.version} ({pkg.hours:.2f} h)", flush=True)
        work.mkdir()
        try:
            files = music_files(pkg, download(pkg, work))
            if not files:
                raise RuntimeError(f"{pkg.package} {pkg.version}: no file matches {' '.join(pkg.music)}")
            import_audio(files, out, cfg, jobs=jobs, describe=pkg.describe, progress=progress, labels=labels, splits=splits)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        done[pkg.package] = _done_marker(pkg.version, splits)
        atomic_write_text(done_path, json.dumps(done, indent=1) + "\n")
    used = [p for p in read_packages(package_list) if p.package in done]
    atomic_write_text(out / "ATTRIBUTION.md", attribution_text(used))
    clips = sum(1 for _ in (out / "audio").glob("*.wav"))
    return {"out": str(out), "packages": len(used), "hours_listed": round(sum(p.hours for p in used), 2), "clips": clips}
