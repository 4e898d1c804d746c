"""Edges a newcomer hit with `text2music generate` (issue 22): each failed before its fix."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from safetensors.torch import load_file, save_file

from text2music.cli import main


def run(tmp_path, *args):
    return main(["generate", *args, "--duration", "1", "--steps", "1", "--quiet"])


# --- refused with one line, before torch loads -----------------------------------------------------

BAD = [
    (["x", "-o", "song.mp3"], "writes .wav or .flac files, not .mp3"),
    (["x", "-o", "a" * 300 + ".wav"], "is too long for the file system"),
    (["x", "--strength", "0.3"], "--strength needs --init-audio"),
    (["x", "--adapter", "README.md"], "is a file, not an adapter folder"),
    (["x", "--vocoder", "hifi"], "--vocoder: 'hifi' is neither"),
    (["x", "--steps", "0"], "steps must be between 1 and 100"),
    (["   "], "text 1 is empty"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line_before_torch_loads(tmp_path, args, message):
    """Validation errors waited 3-10 s for torch to import; `-o a.mp3` silently made a folder;
    `--adapter some.wav` said "folder not found"; `--strength` without init audio was ignored."""
    (tmp_path / "README.md").write_text("not an adapter")
    code = f"import sys\nfrom text2music.cli import main\ncode = main(['generate', *{args!r}])\nprint('torch' in sys.modules, code)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.split() == ["False", "2"], (out.stdout, out.stderr)
    assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # nothing made


def test_a_config_that_names_a_bad_vocoder_is_blamed_not_the_flag(tiny_model, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "vocoder": 42}))
    assert run(tmp_path, "x", "--model", str(folder), "-o", str(tmp_path / "o.wav")) == 2
    err = capsys.readouterr().err
    assert f'{folder / "config.json"}: "vocoder" must name a vocoder' in err and "--vocoder" not in err


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_damaged_weights_are_an_error_naming_the_file(tiny_model, tmp_path, capsys, precision):
    """A damaged float32 model gave exit 0 and a full-scale DC WAV; int8 a cryptic quantisation error."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    state = load_file(str(folder / "model.safetensors"))
    name = sorted(state)[3]
    state[name][..., 0] = float("nan")
    save_file(state, str(folder / "model.safetensors"))
    assert run(tmp_path, "x", "--model", str(folder), "--precision", precision, "-o", str(tmp_path / "o.wav")) == 2
    err = capsys.readouterr().err
    assert str(folder / "model.safetensors") in err and "NaN or infinite" in err and err.count("\n") == 1
    assert not (tmp_path / "o.wav").exists()


# --- prompts files: stdin, clips written as made, re-runs resume -----------------------------------


def test_prompts_from_standard_input(tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"soft piano\n# skipped\nloud drums\n")))
    assert run(tmp_path, "--prompts", "-", "--model", str(tiny_model), "-o", str(tmp_path / "out")) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01-soft-piano-seed0.wav", "02-loud-drums-seed0.wav"]


def test_clips_are_written_as_they_are_made_and_a_rerun_resumes(tiny_model, tmp_path, monkeypatch, capsys):
    """10,000 prompts were held in memory and written at the end: a kill lost everything, and
    "run the same command again to resume" was false."""
    from text2music.generate.pipeline import Text2Music

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"piece number {i}\n" for i in range(5)))
    args = ["--prompts", str(prompts), "--model", str(tiny_model), "-o", str(tmp_path / "out"), "--batch-size", "2"]
    real_call, calls = Text2Music.__call__, []

    def dies_on_the_third_batch(self, texts, *a, **kw):
        calls.append(list(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_call(self, texts, *a, **kw)

    monkeypatch.setattr(Text2Music, "__call__", dies_on_the_third_batch)
    assert run(tmp_path, *args) == 130
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"0{i}-piece-number-{i - 1}-seed0.wav" for i in (1, 2, 3, 4)]  # two batches on disk
    assert "run the same command again to resume" in capsys.readouterr().err
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}

    calls.clear()
    monkeypatch.setattr(Text2Music, "__call__", real_call)
    assert run(tmp_path, *args) == 0
    assert len(list((tmp_path / "out").iterdir())) == 5
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # the finished clips were not made again
    captured = capsys.readouterr()
    assert "4 of 5 clips already written; skipped" in captured.err
    assert captured.out.split() == [str(tmp_path / "out" / "05-piece-number-4-seed0.wav")]
    assert run(tmp_path, *args, "--overwrite") == 0
    assert any(p.stat().st_mtime_ns != t for p, t in before.items())


def test_a_clip_named_on_the_command_line_is_made_again(tiny_model, tmp_path):
    """Only a --prompts batch resumes: `generate TEXT -o clip.wav` with other settings replaces the file."""
    out = tmp_path / "clip.wav"
    assert run(tmp_path, "soft piano", "--model", str(tiny_model), "-o", str(out), "--seed", "1") == 0
    first = sf.read(out)[0]
    assert run(tmp_path, "soft piano", "--model", str(tiny_model), "-o", str(out), "--seed", "2") == 0
    assert not np.array_equal(sf.read(out)[0], first)


def test_sigterm_keeps_the_clips_already_written(tiny_model, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"piece number {i}\n" for i in range(400)))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "text2music", "generate", "--prompts", str(prompts), "--model", str(tiny_model), "-o", str(out)]
    cmd += ["--duration", "1", "--steps", "1", "--batch-size", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the first clip is on disk once its path is printed
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert first.strip().endswith("001-piece-number-0-seed0.wav")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert sf.info(first.strip()).frames > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written temp file


# --- write failures: one line naming the file -------------------------------------------------------


@pytest.mark.parametrize("which", ["wav", "png", "npy"])
def test_a_full_disk_names_the_file(tiny_model, tmp_path, monkeypatch, capsys, which):
    """np.save's OSError was a traceback; soundfile's said only "System error."."""
    import text2music.features.mel as mel
    import text2music.features.plot as plot

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = {"wav": (mel, "save_audio"), "png": (plot, "save_mel_png"), "npy": (np, "save")}[which]
    monkeypatch.setattr(*target, full)
    out = tmp_path / "clip.wav"
    assert run(tmp_path, "x", "--model", str(tiny_model), "-o", str(out), "--png", "--npy") == 2
    err = capsys.readouterr().err
    assert f"cannot write {out.with_suffix('.' + which)}: No space left on device" in err and err.count("\n") == 1, err


def test_the_python_api_lets_openmp_threads_sleep(tmp_path):
    """Only generate, evaluate and serve set OMP_WAIT_POLICY: finetune and the Python API spun
    (10.9 s against 1.9 s a step on a busy machine). A user's own setting is kept."""
    code = "import os, text2music; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "ACTIVE"
