"""`text2music evaluate` end to end on a handful of short corpus clips: real audio, the vocoder
floor and a tiny random model, with every judge for real; resumable only with the same system,
settings and corpus; the leaderboard table."""

import json
import shutil

import numpy as np
import pytest
import torch

from text2music.cli import main
from text2music.data.synth import build_corpus
from text2music.evaluate.fad import frechet_audio_distance
from text2music.evaluate.prompts import corpus_items
from text2music.features.mel import get_preset
from text2music.models import build_model, save_pretrained
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig

TEXT = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, n=10, jobs=1, duration=4.0, progress=False)
    return out


def evaluate(corpus, out, model, *extra):
    return main(
        [
            "evaluate",
            "--model",
            str(model),
            "--data",
            str(corpus),
            "--split",
            "train",
            "--n",
            "6",
            "--out",
            str(out),
            "--duration",
            "4",
            "--steps",
            "2",
            "--diversity-prompts",
            "2",
            "--diversity-seeds",
            "2",
            "--quiet",
            *extra,
        ]
    )


def test_evaluate_real_vocoder_and_a_model_then_leaderboard(corpus, tmp_path, capsys):
    corpus = shutil.copytree(corpus, tmp_path / "synth")  # rebuilt at the end
    torch.manual_seed(0)
    model = build_model("flow_transformer", d_model=32, heads=2, layers=1, patch=2)
    save_pretrained(tmp_path / "tiny", model, get_preset("small"), TEXT)
    reports = tmp_path / "reports"
    assert evaluate(corpus, reports / "real", "real", "--no-speed") == 0
    assert evaluate(corpus, reports / "vocoder", "vocoder", "--no-speed") == 0
    assert evaluate(corpus, reports / "tiny", tmp_path / "tiny") == 0
    real = json.loads((reports / "real" / "metrics.json").read_text())
    tiny = json.loads((reports / "tiny" / "metrics.json").read_text())
    # the real-audio row is real half A against real half B, not a half against itself
    items = corpus_items(corpus, "train", 6)
    ref = reports / f"_reference-{corpus.name}-train"

    def emb(part):
        return np.concatenate([np.load(ref / "embeddings" / f"{it.id}_s0.npy") for it in part])

    assert real["fad"] == round(frechet_audio_distance(emb(items[0::2]), emb(items[1::2])), 3)
    assert real["fad"] > round(frechet_audio_distance(emb(items[0::2]), emb(items[0::2])), 3) + 1.0
    assert real["soundfont"] == json.loads((corpus / "corpus.json").read_text())["soundfont"] and real["soundfont"]["name"]
    assert real["adherence"]["drums_acc"] >= 0.8  # the judges read the corpus's own audio right
    assert tiny["fad"] > real["fad"]  # an untrained model sounds nothing like the corpus
    assert tiny["speed"]["rtf"] > 0 and tiny["speed"]["peak_rss_mb"] > 0
    assert "diversity" in tiny and "diversity" not in real
    for name in ("real", "tiny"):
        for f in ("report.md", "spectrograms.png"):
            assert (reports / name / f).stat().st_size > 0
    assert len(list((reports / "tiny" / "audio").glob("*.wav"))) == 6 + 2  # 6 prompts + 1 extra seed for 2 of them

    # resumable: a second run re-renders nothing and gives the same numbers
    stamp = {p: p.stat().st_mtime_ns for p in (reports / "tiny" / "audio").glob("*.wav")}
    assert evaluate(corpus, reports / "tiny", tmp_path / "tiny", "--no-speed") == 0
    assert {p: p.stat().st_mtime_ns for p in (reports / "tiny" / "audio").glob("*.wav")} == stamp
    again = json.loads((reports / "tiny" / "metrics.json").read_text())
    assert again["fad"] == tiny["fad"] and again["adherence"] == tiny["adherence"]
    # other settings into the same folder: refused, in one line, before any model work
    capsys.readouterr()
    assert evaluate(corpus, reports / "tiny", tmp_path / "tiny", "--guidance", "5", "--no-speed") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "settings.guidance: 3.0 there, 5.0 now" in err and "--out" in err
    assert {p: p.stat().st_mtime_ns for p in (reports / "tiny" / "audio").glob("*.wav")} == stamp
    config = json.loads((reports / "tiny" / "metrics.json").read_text())["config"]
    assert (config.get("settings") or config)["guidance"] == 3.0  # the settings nested in the config, or flat
    assert evaluate(corpus, reports / "tiny", tmp_path / "tiny", "--vocoder", "griffin-lim-32-nnls30", "--no-speed") == 2
    assert "system.vocoder.griffin_lim.nnls_iter: 300 there, 30 now" in capsys.readouterr().err

    # the vocoder-only row through a neural vocoder (untrained here: worse than Griffin-Lim)
    torch.manual_seed(0)
    NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=1), get_preset("small")).save(tmp_path / "vocos")
    assert evaluate(corpus, reports / "neural", f"vocoder:{tmp_path / 'vocos'}", "--no-speed") == 0
    neural = json.loads((reports / "neural" / "metrics.json").read_text())
    assert neural["fad"] > json.loads((reports / "vocoder" / "metrics.json").read_text())["fad"]

    board = tmp_path / "EVALUATION.md"
    board.write_text("# Leaderboard\n\nintro\n\n<!-- leaderboard:start -->\n<!-- leaderboard:end -->\n\nnotes\n")
    assert main(["leaderboard", str(reports / "real"), str(reports / "vocoder"), str(reports / "tiny"), "-o", str(board)]) == 0
    text = board.read_text()
    assert text.startswith("# Leaderboard\n\nintro") and text.rstrip().endswith("notes")
    assert text.count("\n| [") == 3 and "[real]" in text and "[tiny]" in text
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "no model folder" in capsys.readouterr().err
    assert main(["evaluate", "--model", f"real:{tmp_path / 'missing'}", "--out", str(tmp_path / "x")]) == 2
    assert "is not a corpus folder (no manifest.jsonl)" in capsys.readouterr().err

    # a rebuilt corpus: refused by its old reports; a new report renews the shared real-audio cache
    manifest = corpus / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"caption": "', '"caption": "Rebuilt: ', 1))
    assert evaluate(corpus, reports / "real", "real", "--no-speed") == 2
    assert "prompts.manifest_sha256" in capsys.readouterr().err
    stale = (ref / "judged.jsonl").stat().st_mtime_ns
    assert evaluate(corpus, reports / "real-rebuilt", "real", "--no-speed") == 0
    assert (ref / "judged.jsonl").stat().st_mtime_ns != stale  # judged again, from the new corpus
    rebuilt = json.loads((reports / "real-rebuilt" / "metrics.json").read_text())
    assert json.loads((ref / "fingerprint.json").read_text()) == rebuilt["fingerprint"]["prompts"]


def test_a_report_names_the_command_that_makes_it_again():
    from text2music.cli import build_parser, evaluate_command

    argv = ["evaluate", "--model", "default", "--normalize", "--reverb", "0.5", "--guidance", "5", "--out", "reports/x"]
    command = evaluate_command(build_parser().parse_args(argv))
    assert command.startswith("text2music evaluate --model default ") and command.endswith(" --out reports/x")
    assert {"--normalize", "--reverb 0.5", "--guidance 5.0"} <= set(command.replace(" --", "\n--").splitlines())
    again = build_parser().parse_args(command.split()[1:])
    assert vars(again) == vars(build_parser().parse_args(argv))
