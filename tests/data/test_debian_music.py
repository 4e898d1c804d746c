"""The real-music corpus's package list and how music is found in an unpacked package."""

from __future__ import annotations

import zipfile

import pytest

from text2music.data.debian_music import PACKAGE_LIST, MusicPackage, attribution_text, is_reserved, music_files, read_packages, select


def test_the_pinned_list_is_valid_and_holds_no_reserved_package():
    packages = read_packages()
    assert len(packages) >= 25 and sum(p.hours for p in packages) > 30
    assert not any(is_reserved(p.package) for p in packages)
    assert all(p.version and p.licence and p.attribution and p.describe for p in packages)
    assert len({p.package for p in packages}) == len(packages)


@pytest.mark.parametrize("name", ["wesnoth-1.16-music", "wesnoth-music", "singularity-music", "nexuiz-music", "fretsonfire-songs-muldjord"])
def test_reserved_test_music_is_refused(tmp_path, name):
    assert is_reserved(name)
    listing = tmp_path / "list.tsv"
    header = PACKAGE_LIST.read_text().splitlines()
    columns = next(ln for ln in header if ln.startswith("package\t"))
    listing.write_text(f"{columns}\n{name}\t1.0\tusr/*.ogg\tGPL-2+\tsomeone\tgame music\t1.0\n")
    with pytest.raises(ValueError, match="reserved as independent test music"):
        read_packages(listing)


def test_select_by_name_and_hours():
    packages = read_packages()
    assert [p.package for p in select(packages, ["tecnoballz-data", "naev-data"], None)] == ["naev-data", "tecnoballz-data"]
    chosen = select(packages, None, 6.0)
    assert sum(p.hours for p in chosen) <= 6.0 and chosen
    with pytest.raises(ValueError, match="not-a-package"):
        select(packages, ["not-a-package"], None)


def test_music_files_from_folders_and_archives(tmp_path):
    root = tmp_path / "root"
    (root / "usr/share/game/music").mkdir(parents=True)
    (root / "usr/share/game/music/theme.ogg").write_bytes(b"x")
    (root / "usr/share/game/sfx.ogg").write_bytes(b"x")
    with zipfile.ZipFile(root / "usr/share/game/data.pk3", "w") as z:
        z.writestr("music/battle!.ogg", b"x")
        z.writestr("sound/click.ogg", b"x")
    pkg = MusicPackage(
        "g", "1", ("usr/share/game/music/*.ogg", "usr/share/game/data.pk3!music/*.ogg"), "GPL-2+", "Someone", "game music", 0.1
    )
    names = sorted(p.name for p in music_files(pkg, root))
    assert names == ["battle!.ogg", "theme.ogg"]
    text = attribution_text([pkg])
    assert "| g | 1 | GPL-2+ | Someone | 0.10 |" in text


def test_cli_refuses_unknown_packages_before_downloading(tmp_path, capsys):
    from text2music.cli import main

    assert main(["data", "debian", "--out", str(tmp_path / "real"), "--packages", "nexuiz-music"]) == 2
    assert "nexuiz-music not in the package list" in capsys.readouterr().err
    assert not any((tmp_path / "real").glob("audio/*"))
