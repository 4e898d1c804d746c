"""A smoke test per CLI command: --help works and shows defaults; bad input gives a clear error."""

import re
import subprocess
import sys

import pytest

from text2music.cli import main

COMMANDS = [
    ["data", "musiccaps"],
    ["data", "synth"],
    ["data", "stats"],
    ["data", "preprocess"],
    ["train"],
    ["train-stereo"],
    ["generate"],
    ["predict"],
    ["evaluate"],
    ["leaderboard"],
    ["plot"],
]


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
    assert main(["generate", "some text", "--model", str(tmp_path / "none")]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["generate", "some text", "--vocoder", "hifi", "-o", str(tmp_path / "a.wav")]) == 2
    assert "--vocoder: 'hifi' is neither" in capsys.readouterr().err
    assert main(["evaluate", "--model", "vocoder", "--vocoder", "griffin-lim", "--out", str(tmp_path / "r")]) == 2
    assert "--vocoder is for a model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "musiccaps", "--out", str(tmp_path), "--jobs", "0"])
    assert "must be positive" in capsys.readouterr().err


def test_plot_command(tmp_path):
    from tests.conftest import synth_music, write_wav

    wav = write_wav(tmp_path / "a.wav", synth_music(16000, 3.0), 16000)
    assert main(["plot", str(wav), "-o", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 5000


def test_plot_draws_a_44k_file_over_its_whole_band(tmp_path, monkeypatch):
    from tests.conftest import synth_music, write_wav
    from text2music.features import plot

    drawn = []
    monkeypatch.setattr(plot, "save_mel_png", lambda out, mel, cfg, title: drawn.append((mel.shape, cfg, title)))
    wav = write_wav(tmp_path / "b.wav", synth_music(44100, 2.0), 44100)
    assert main(["plot", str(wav), "-o", str(tmp_path / "b.png")]) == 0
    shape, cfg, title = drawn[0]
    assert cfg.sample_rate == 44100 and cfg.f_max == 22050 and shape[0] == 128 and title == "b.wav (44100 Hz)"
    assert abs(cfg.hop_length / cfg.sample_rate - 256 / 16000) < 1e-4  # the same frames in time as the model's mel


def test_parser_imports_nothing_heavy():
    """--help and argparse errors must answer at once: building the parser loads no torch, librosa,
    transformers or numpy (they took 3 s on a quiet machine, 5-15 s under load)."""
    code = (
        "import sys; from text2music.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'librosa', 'transformers', 'numpy', 'matplotlib', 'fastapi') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["generate", "--help"]])
def test_output_into_a_closed_pipe_is_not_an_error(argv):
    """`text2music ... | head`: the reader has gone; no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "text2music", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader leaves before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "BrokenPipeError" not in err and "Traceback" not in err, err


def test_help_has_no_empty_or_doubled_defaults(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main(command + ["--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in out and "(default: False)" not in out, command
        assert not re.search(r"\(default:[^)]*\) \(default:", out), command
