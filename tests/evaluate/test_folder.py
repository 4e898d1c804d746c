"""Report folders resume only what the same system, settings and prompts made; the shared
real-audio cache is emptied when its corpus changes."""

import json

import pytest

from text2music.evaluate.folder import (
    FINGERPRINT,
    claim_reference,
    claim_report,
    corpus_fingerprint,
    corpus_soundfont,
    differences,
    folder_sha256,
    system_fingerprint,
    vocoder_row_source,
)

FP = {"system": {"spec": "model", "files_sha256": "aa"}, "settings": {"guidance": 3.0, "steps": 16}, "prompts": {"manifest_sha256": "m1"}}


def fill(folder):
    (folder / "audio").mkdir(parents=True)
    (folder / "audio" / "c0_s0.wav").write_bytes(b"x")
    (folder / "judged.jsonl").write_text("{}\n")
    (folder / "notes.txt").write_text("mine")  # not evaluate's: never removed


def test_a_report_folder_resumes_only_its_own_fingerprint(tmp_path):
    out = tmp_path / "report"
    claim_report(out, FP)
    fill(out)
    claim_report(out, json.loads(json.dumps(FP)))  # the same settings resume
    assert (out / "audio" / "c0_s0.wav").exists()
    other = {**FP, "settings": {"guidance": 5.0, "steps": 16}}
    with pytest.raises(ValueError) as e:
        claim_report(out, other)
    message = str(e.value)
    assert "\n" not in message and "settings.guidance: 3.0 there, 5.0 now" in message
    assert "--out" in message and "--overwrite" in message
    assert (out / "audio" / "c0_s0.wav").exists() and json.loads((out / FINGERPRINT).read_text()) == FP
    claim_report(out, other, overwrite=True)  # redo: evaluate's files go, the fingerprint is the new one
    assert not (out / "audio").exists() and not (out / "judged.jsonl").exists() and (out / "notes.txt").exists()
    assert json.loads((out / FINGERPRINT).read_text()) == other


def test_a_run_that_failed_before_any_result_does_not_block_the_next(tmp_path):
    out = tmp_path / "report"
    claim_report(out, {**FP, "settings": {"guidance": 99.0, "steps": 16}})  # then failed: no audio, no judgements
    claim_report(out, FP)  # the corrected command resumes the empty folder
    assert json.loads((out / FINGERPRINT).read_text()) == FP


def test_bad_settings_are_refused_before_the_folder_is_touched(tmp_path, capsys):
    from text2music.cli import main

    out = tmp_path / "report"
    argv = ["evaluate", "--model", "default", "--out", str(out), "--prompts", "musiccaps", "--n", "2", "--duration", "301"]
    assert main(argv) == 2
    assert "duration must be between" in capsys.readouterr().err
    assert not out.exists()


def test_results_without_a_fingerprint_are_refused(tmp_path):
    fill(tmp_path / "old")
    with pytest.raises(ValueError, match="no fingerprint.json"):
        claim_report(tmp_path / "old", FP)
    claim_report(tmp_path / "empty", FP)  # an empty or new folder is simply claimed
    assert (tmp_path / "empty" / FINGERPRINT).exists()


def test_a_stale_reference_cache_is_emptied(tmp_path):
    ref = tmp_path / "_reference-synth-test"
    assert not claim_reference(ref, {"manifest_sha256": "m1"})
    fill(ref)
    assert not claim_reference(ref, {"manifest_sha256": "m1"}) and (ref / "judged.jsonl").exists()
    assert claim_reference(ref, {"manifest_sha256": "m2"})  # the corpus was rebuilt
    assert not (ref / "audio").exists() and not (ref / "judged.jsonl").exists()
    assert json.loads((ref / FINGERPRINT).read_text()) == {"manifest_sha256": "m2"}
    fill(tmp_path / "legacy")  # a cache with no fingerprint: redone too
    assert claim_reference(tmp_path / "legacy", {"manifest_sha256": "m2"})


def test_fingerprints_of_systems_and_corpora(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"kind": "flow_transformer"}')
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "loss.png").write_bytes(b"picture")
    first = system_fingerprint(str(model))
    gl = {"griffin_lim": {"n_iter": 32, "nnls_iter": 300}}
    assert first == {"spec": "model", "files_sha256": folder_sha256(model), "vocoder": gl}  # no vocoder of its own
    (model / "loss.png").write_bytes(b"another picture")  # logs and pictures do not count
    assert system_fingerprint(str(model)) == first
    (model / "model.safetensors").write_bytes(b"other weights")
    assert system_fingerprint(str(model)) != first
    assert system_fingerprint("vocoder:" + str(model))["spec"] == "vocoder"
    assert system_fingerprint(str(model), "griffin-lim") == system_fingerprint(str(model))  # the same audio
    assert system_fingerprint("vocoder") == system_fingerprint("vocoder:griffin-lim-32-nnls300") == {"spec": "vocoder", **gl}
    assert system_fingerprint("vocoder:griffin-lim-nnls30")["griffin_lim"] == {"n_iter": 32, "nnls_iter": 30}
    assert system_fingerprint(str(model), str(model))["vocoder"] == {"files_sha256": folder_sha256(model)}
    (model / "vocoder.json").write_text("{}")  # a folder that ships its vocoder: the folder's hash covers it
    assert "vocoder" not in system_fingerprint(str(model))
    assert "precision" not in system_fingerprint(str(model)) and system_fingerprint(str(model), precision="int8")["precision"] == "int8"
    (model / "config.json").write_text('{"kind": "flow_transformer", "precision": "int8"}')  # "auto" is what the folder names
    assert system_fingerprint(str(model))["precision"] == "int8" and "precision" not in system_fingerprint(str(model), precision="float32")
    assert system_fingerprint("real") == {"spec": "real"}

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.jsonl").write_text('{"clip_id": "c0"}\n')
    assert corpus_soundfont(corpus) is None and corpus_fingerprint("corpus", corpus, "test")["corpus_json_sha256"] is None
    (corpus / "corpus.json").write_text(json.dumps({"n": 1, "soundfont": {"name": "TimGM6mb.sf2", "size": 1, "sha256_1mb": "ab"}}))
    assert corpus_soundfont(corpus)["name"] == "TimGM6mb.sf2"
    before = corpus_fingerprint("corpus", corpus, "test")
    (corpus / "manifest.jsonl").write_text('{"clip_id": "c0", "caption": "rebuilt"}\n')
    assert differences(before, corpus_fingerprint("corpus", corpus, "test")) == [
        f"manifest_sha256: {before['manifest_sha256']!r} there, {corpus_fingerprint('corpus', corpus, 'test')['manifest_sha256']!r} now"
    ]
    (corpus / "corpus.json").write_text("not json")
    assert corpus_soundfont(corpus) is None


def test_the_default_vocoder_row_is_the_vocoder_the_default_runs_with():
    """'vocoder:default' names the vocoder the bundled model's config.json names, not the model folder."""
    from text2music.generate.spec import DEFAULT_MODEL_DIR
    from text2music.models.vocoder import neural_vocoder_folder

    named = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["vocoder"]
    assert vocoder_row_source("vocoder:default") == neural_vocoder_folder(named)
    assert vocoder_row_source("vocoder") == vocoder_row_source("vocoder:griffin-lim")
    assert vocoder_row_source("default") is None
