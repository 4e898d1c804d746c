"""A smoke test per CLI command: --help works and shows defaults; bad input gives a clear error."""

import subprocess
import sys

import pytest

from text2music.cli import main

COMMANDS = [["data", "musiccaps"], ["data", "synth"], ["data", "stats"], ["data", "preprocess"], ["train"], ["generate"], ["predict"],
            ["evaluate"], ["leaderboard"], ["plot"]]


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ["data", "train", "generate", "predict", "evaluate", "leaderboard", "plot"]:
        assert name in out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_has_help_with_defaults(command, capsys):
    with pytest.raises(SystemExit) as e:
        main(command + ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: text2music " + " ".join(command))
    if command != ["data", "stats"]:  # stats takes only a folder
        assert "(default:" in out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "text2music", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("text2music ")


def test_errors_are_clear(tmp_path, capsys):
    assert main(["data", "preprocess", str(tmp_path)]) == 2
    assert "metadata.csv" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "none.wav")]) == 2
    assert "none.wav" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path), "some text"]) == 2
    assert "not a text2music model folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "musiccaps", "--out", str(tmp_path), "--jobs", "0"])
    assert "must be positive" in capsys.readouterr().err


def test_plot_command(tmp_path):
    from tests.conftest import synth_music, write_wav

    wav = write_wav(tmp_path / "a.wav", synth_music(16000, 3.0), 16000)
    assert main(["plot", str(wav), "-o", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 5000
