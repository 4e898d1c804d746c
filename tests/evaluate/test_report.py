"""The report and the leaderboard without a model: refusals before any work, report.md linking
only the pictures written, spectrograms at the mel configuration's own sample rate."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from text2music.cli import main
from text2music.evaluate import report
from text2music.evaluate.prompts import EvalItem
from text2music.evaluate.run import adherence
from text2music.features.mel import MelConfig, save_audio


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("text2music: error: ") and "\n" not in err, err
    return err


def fake_manifest(folder, n_test: int):
    folder.mkdir()
    split = ["test"] * n_test + ["train"] * 2
    rows = [{"clip_id": f"c{i}", "split": s, "caption": "piano", "audio": f"c{i}.wav", "drums": False} for i, s in enumerate(split)]
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_more_prompts_than_the_split_has_is_refused_before_any_work(tmp_path, capsys):
    data = fake_manifest(tmp_path / "synth", n_test=3)
    out = tmp_path / "report"
    assert main(["evaluate", "--model", "real", "--data", str(data), "--n", "403", "--out", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "--n 403" in err and "3 prompts" in err and "'test'" in err
    assert not out.exists()
    assert main(["evaluate", "--model", "real", "--data", str(data), "--split", "all", "--n", "6", "--out", str(out), "--quiet"]) == 2
    assert "split 'all'" in one_line_error(capsys) and not out.exists()  # every clip: 5 here


def test_more_musiccaps_prompts_than_the_csv_has_is_refused(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--model", "default", "--prompts", "musiccaps", "--n", "1000000", "--out", str(out), "--quiet"]) == 2
    assert "--n 1000000" in one_line_error(capsys)
    assert not out.exists()


def metrics_file(folder, fad: float = 1.0):
    items = [EvalItem(id=f"c{i}", text="piano", named={"piano"}, excluded=set()) for i in range(2)]
    judged = [{"tags": {"piano": 0.5}, "tempo": 100.0, "key": "C", "mode": "major", "drum_activity": 0.0, "speckle": 1.0} for _ in items]
    m = {"system": folder.name, "command": None, "n_prompts": 2, "fad": fad, "adherence": adherence(items, judged)}
    m["config"] = {"prompts": "corpus", "split": "test", "steps": 8, "guidance": 3.0, "seed": 0}
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(m))
    return m, items, judged


def test_leaderboard_into_a_folder_is_one_line(tmp_path, capsys):
    metrics_file(tmp_path / "reports" / "real")
    assert main(["leaderboard", str(tmp_path / "reports" / "real"), "-o", str(tmp_path)]) == 2
    assert "-o" in one_line_error(capsys)
    assert main(["leaderboard", str(tmp_path / "reports" / "real"), "-o", str(tmp_path / "missing" / "E.md")]) == 2
    assert "missing" in one_line_error(capsys)
    board = tmp_path / "E.md"
    assert main(["leaderboard", str(tmp_path / "reports" / "real"), "-o", str(board)]) == 0
    assert "| [real](" in board.read_text()


def test_report_links_only_the_pictures_it_wrote(tmp_path):
    out = tmp_path / "report"
    m, items, judged = metrics_file(out)  # no concept with 5 clips each side, no stated tempo
    for it in items:
        it.audio = out / f"{it.id}.wav"
        save_audio(it.audio, 0.1 * np.sin(np.linspace(0, 2000, 16000)).astype(np.float32), 16000)
    report.write_report(out, m, items, judged, {}, SimpleNamespace(system="real", seed=0))
    text = (out / "report.md").read_text()
    linked = [line.split("(")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert linked == ["spectrograms.png"]
    assert all((out / name).is_file() for name in linked)


def test_report_spectrograms_read_audio_at_the_mel_rate(tmp_path, monkeypatch):
    out = tmp_path / "report"
    m, items, judged = metrics_file(out)
    for it in items:
        it.audio = out / f"{it.id}.wav"
        save_audio(it.audio, np.zeros(8000, np.float32), 8000)
    rates = []

    def load_audio(path, sample_rate):
        rates.append(sample_rate)
        return np.zeros(sample_rate, np.float32)

    monkeypatch.setattr(report, "load_audio", load_audio)
    monkeypatch.setattr(report, "get_preset", lambda name: MelConfig(sample_rate=22050, n_fft=1024, hop_length=256))
    report.write_report(out, m, items, judged, {}, SimpleNamespace(system="real", seed=0))
    assert rates and set(rates) == {22050}


@pytest.mark.parametrize("name", ["tag_auc.png", "tempo.png"])
def test_report_links_each_picture_only_when_written(tmp_path, name):
    m, _, _ = metrics_file(tmp_path / "r")
    text = report.report_markdown(m, pictures=[name])
    assert f"({name})" in text and "(spectrograms.png)" not in text


def test_report_reads_nested_and_flat_settings(tmp_path):
    m, _, _ = metrics_file(tmp_path / "r")  # flat, as reports before the settings were nested
    nested = {**m, "config": {"prompts": "corpus", "split": "test", "settings": {"steps": 8, "guidance": 3.0, "seed": 0}}}
    for metrics in (m, nested):
        assert "8 steps, guidance 3.0, seed 0." in report.report_markdown(metrics)
    real = {**nested, "fingerprint": {"system": {"spec": "real"}, "settings": {}}}  # real audio: no generation settings
    assert "(corpus, split test)." in report.report_markdown(real) and "steps" not in report.report_markdown(real)


def test_leaderboard_rows_take_labels_and_leave_out_empty_columns(tmp_path):
    real, model = tmp_path / "reports" / "real", tmp_path / "reports" / "model"
    metrics_file(real, fad=2.0)
    m, _, _ = metrics_file(model, fad=30.0)
    m["speed"] = {"rtf": 9.5, "peak_rss_mb": 700.0}
    (model / "metrics.json").write_text(json.dumps(m))
    board = tmp_path / "E.md"
    assert main(["leaderboard", f"shipped default={model}", str(real), "-o", str(board)]) == 0
    lines = [line for line in board.read_text().splitlines() if line.startswith("|")]
    assert lines[2].startswith(f"| [shipped default]({model.as_posix()}/report.md) | 30.00 |")
    assert lines[3].startswith(f"| [real]({real.as_posix()}/report.md) | 2.00 |")
    assert "RTF ↑" in lines[0] and "diversity" not in lines[0]  # no report has a diversity
    assert all(line.count("|") == lines[0].count("|") for line in lines)


@pytest.mark.parametrize("text", ["{not json", '{"system": "x"}'])
def test_leaderboard_names_a_metrics_file_it_cannot_read(tmp_path, capsys, text):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "metrics.json").write_text(text)
    assert main(["leaderboard", str(folder), "-o", str(tmp_path / "E.md")]) == 2
    assert str(folder / "metrics.json") in one_line_error(capsys)
    assert not (tmp_path / "E.md").exists()
