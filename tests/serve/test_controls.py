"""Musical controls over HTTP: bpm, key, meter, drums, bars, loop and text_controls.

Typed strictly (422 naming the field), checked by GenerationSettings (422 with its limits), refused
at submit time by a model trained without controls, and reported back once a job is done: the
controls each clip was made with, its length, and notes on what was chosen or overridden."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serve.test_app import read_wav, wait_done
from text2music.generate.settings import MAX_BARS, MAX_BPM, MIN_BPM, GenerationSettings, setting_fields
from text2music.serve.app import HTTP_GROUPS
from text2music.serve.jobs import generate

DEFAULTS = GenerationSettings()
FAST = {"steps": 1}


@pytest.fixture
def plain(tiny_pipeline, make_app):
    """A client of a model trained without musical controls."""
    return TestClient(make_app(tiny_pipeline, workers=1, max_queue=8))


@pytest.fixture
def controlled(tiny_control_pipeline, make_app, tmp_path):
    """A client of a model trained with musical controls."""
    return TestClient(make_app(tiny_control_pipeline, workers=1, max_queue=8, out_dir=tmp_path / "controlled"))


def submitted(client) -> int:
    return client.get("/api/info").json()["queue"]["submitted"]


# -- /api/info and the schema


def test_info_says_whether_the_model_has_controls_and_their_limits(plain, controlled):
    for client, has in ((plain, False), (controlled, True)):
        info = client.get("/api/info").json()
        assert info["model"]["controls"] is has
        assert info["limits"]["bpm"] == [MIN_BPM, MAX_BPM] and info["limits"]["bars"] == [1, MAX_BARS]
        assert info["meters"] == ["3/4", "4/4"]
        assert len(info["keys"]) == len(set(info["keys"])) == 24
        assert info["keys"][0] == "C major" and "F# minor" in info["keys"] and "Bb major" in info["keys"]
        defaults = info["defaults"]
        assert set(defaults) == {f.name for f in setting_fields(groups=HTTP_GROUPS)}
        assert {k: defaults[k] for k in ("bpm", "key", "meter", "drums", "bars", "loop", "text_controls")} == {
            "bpm": None,
            "key": None,
            "meter": None,
            "drums": None,
            "bars": None,
            "loop": False,
            "text_controls": True,
        }


def test_the_schema_documents_the_control_fields(plain):
    body = plain.get("/openapi.json").json()["components"]["schemas"]["GenerateBody"]["properties"]
    assert body["bpm"]["minimum"] == MIN_BPM and body["bpm"]["maximum"] == MAX_BPM
    assert body["bars"]["minimum"] == 1 and body["bars"]["maximum"] == MAX_BARS
    assert body["loop"]["default"] is False and body["text_controls"]["default"] is True
    assert "3/4 or 4/4" in body["meter"]["description"] and body["meter"]["examples"] == [3, 4]
    for name in ("bpm", "key", "meter", "drums", "bars"):
        assert body[name].get("default") is None and {"type": "null"} in body[name]["anyOf"] and body[name]["description"]


# -- finished jobs report the controls they were made with


def test_a_job_with_bpm_key_bars_and_loop_reports_the_controls_and_lasts_whole_bars(controlled, tiny_control_pipeline):
    asked = {"bpm": 120, "key": "f#m", "meter": "3/4", "drums": False, "bars": 2, "loop": True, "text_controls": False}
    r = controlled.post("/api/generate", json={"text": "calm piano", **asked, **FAST})
    assert r.status_code == 202, r.text
    job = wait_done(controlled, r.json()["id"])
    assert job["status"] == "done", job["error"]
    seconds = 2 * 3 * 60 / 120  # bars * beats per bar * 60 / bpm
    assert job["controls"] == [{"bpm": 120.0, "key": "F# minor", "meter": "3/4", "drums": False, "duration": pytest.approx(seconds)}]
    assert job["notes"] == []
    assert {k: job["request"][k] for k in asked} == {**asked, "key": "F# minor", "bpm": 120.0}  # canonical spellings
    samples, sr = read_wav(controlled.get(job["audio_url"]).content)
    assert sr == tiny_control_pipeline.sample_rate and len(samples) == round(seconds * sr)
    again = controlled.post("/api/generate", json=job["request"])  # the echoed request asks for the same clip
    assert again.status_code == 202 and again.json()["request"] == job["request"]
    assert controlled.get(wait_done(controlled, again.json()["id"])["audio_url"]).content == controlled.get(job["audio_url"]).content


def test_a_tempo_the_server_chose_is_reported_with_a_note(controlled):
    r = controlled.post("/api/generate", json={"text": "calm piano", "bars": 1, "meter": 4, **FAST})
    assert r.status_code == 202, r.text
    job = wait_done(controlled, r.json()["id"])
    assert job["status"] == "done", job["error"]
    [clip] = job["controls"]
    assert MIN_BPM <= clip["bpm"] <= MAX_BPM and clip["meter"] == "4/4" and clip["key"] is None and clip["drums"] is None
    assert clip["duration"] == pytest.approx(1 * 4 * 60 / clip["bpm"])
    assert f"tempo chosen: {clip['bpm']:g} BPM" in job["notes"]
    assert job["request"]["bpm"] is None and job["request"]["meter"] == "4/4"


def test_controls_stated_in_the_text_are_followed_and_a_setting_overrides_them(controlled):
    text = "a waltz in D minor at 92 BPM"
    job = wait_done(controlled, controlled.post("/api/generate", json={"text": text, "duration": 1.0, "bpm": 100, **FAST}).json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["controls"] == [{"bpm": 100.0, "key": "D minor", "meter": "3/4", "drums": None, "duration": 1.0}]
    assert job["notes"] == ['the text says "at 92 BPM" but bpm 100 was set; using 100']

    body = {"text": text, "duration": 1.0, "text_controls": False, **FAST}
    job = wait_done(controlled, controlled.post("/api/generate", json=body).json()["id"])
    assert job["controls"] == [{"bpm": None, "key": None, "meter": None, "drums": None, "duration": 1.0}]
    assert job["notes"] == []


def test_a_model_without_controls_reports_none_and_can_still_loop(plain, tiny_pipeline):
    job = wait_done(
        plain, plain.post("/api/generate", json={"text": "a waltz at 92 BPM", "duration": 1.5, "loop": True, **FAST}).json()["id"]
    )
    assert job["status"] == "done", job["error"]
    assert job["controls"] == [{"bpm": None, "key": None, "meter": None, "drums": None, "duration": 1.5}] and job["notes"] == []
    samples, sr = read_wav(plain.get(job["audio_url"]).content)
    assert len(samples) == round(1.5 * sr)


def test_controls_and_notes_are_only_shown_once_done(controlled):
    job = controlled.post("/api/generate", json={"text": "calm piano", "duration": 1.0, "bpm": 90, **FAST}).json()
    assert job["status"] in ("queued", "running") and job["controls"] is None and job["notes"] == []
    wait_done(controlled, job["id"])


def test_the_servers_generation_is_the_pipelines_own(tiny_control_pipeline):
    """`jobs.generate` (the text encoded under the tokenizer lock) makes what `pipeline([text])` makes."""
    text = "a waltz in D minor at 92 BPM with drums"
    for settings in (GenerationSettings(duration=1.0, steps=2, seed=5), GenerationSettings(bars=1, loop=True, steps=1, key="Bb")):
        calls = []
        mine = generate(tiny_control_pipeline, text, settings, lambda done, total: calls.append((done, total)))
        theirs = tiny_control_pipeline([text], settings)
        assert mine.plans == theirs.plans and mine.plans[0].controls.meter == 3
        assert np.array_equal(mine.audio, theirs.audio)
        assert calls and calls[-1][0] == calls[-1][1] == settings.model_evaluations


# -- 422: types, ranges, a model without controls


WRONG_TYPES = [
    ({"bpm": True}, "bpm: Input should be a valid number"),
    ({"bpm": "96"}, "bpm: Input should be a valid number"),
    ({"key": 5}, "key: Input should be a valid string"),
    ({"key": "x" * 33}, "key: String should have at most 32 characters"),
    ({"meter": True}, "meter: Input should be an integer or text (beats per bar: 3/4 or 4/4)"),
    ({"meter": 3.0}, "meter: Input should be an integer or text (beats per bar: 3/4 or 4/4)"),
    ({"drums": 1}, "drums: Input should be a valid boolean"),
    ({"drums": "on"}, "drums: Input should be a valid boolean"),
    ({"bars": 2.0}, "bars: Input should be a valid integer"),
    ({"bars": True}, "bars: Input should be a valid integer"),
    ({"bars": "4"}, "bars: Input should be a valid integer"),
    ({"loop": 1}, "loop: Input should be a valid boolean"),
    ({"loop": None}, "loop: Input should be a valid boolean"),
    ({"text_controls": "yes"}, "text_controls: Input should be a valid boolean"),
]

OUT_OF_RANGE = [
    ({"bpm": MIN_BPM - 0.5}, f"bpm: must be a number between {MIN_BPM:g} and {MAX_BPM:g}, got 39.5"),
    ({"bpm": MAX_BPM + 1}, f"bpm: must be a number between {MIN_BPM:g} and {MAX_BPM:g}, got 241"),
    ({"bars": 0}, f"bars: must be an integer between 1 and {MAX_BARS}, got 0"),
    ({"bars": MAX_BARS + 1}, f"bars: must be an integer between 1 and {MAX_BARS}, got {MAX_BARS + 1}"),
    ({"key": "H minor"}, "key: cannot read 'H minor' as a key"),
    ({"key": "steps"}, "key: cannot read 'steps' as a key"),  # a value that names another field
    ({"key": "F# minor", "steps": 0}, "steps: must be between 1 and 100, got 0"),
    ({"meter": "6/8"}, "meter: '6/8' is not supported: only 3/4 and 4/4 are"),
    ({"meter": 5}, "meter: 5 is unknown; choose one of 3, 4"),
    ({"bars": 64, "bpm": 60, "loop": True}, "bars: 64 bars of 4/4 at 60 BPM last 256.00 s; loops must last 1-20 s"),
    ({"bars": 1, "bpm": 240, "meter": "3/4"}, "bars: 1 bars of 3/4 at 240 BPM last 0.75 s; clips must last 1-300 s"),
]


@pytest.mark.parametrize(
    "body,message", WRONG_TYPES + OUT_OF_RANGE, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(WRONG_TYPES + OUT_OF_RANGE)]
)
def test_bad_controls_are_422_naming_the_field(controlled, body, message):
    for path in ("/api/generate", "/api/generate/sync"):
        r = controlled.post(path, json={"text": "calm piano", **body})
        assert r.status_code == 422, r.text
        out = r.json()
        assert out["message"].startswith(message), out["message"]
        assert "\n" not in out["message"] and "x" * 33 not in r.text
        assert out["detail"][0]["loc"] == ["body", message.split(":")[0]]
    assert submitted(controlled) == 0


@pytest.mark.parametrize("body,message", WRONG_TYPES, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(WRONG_TYPES)])
def test_wrong_types_are_422_for_a_model_without_controls_too(plain, body, message):
    r = plain.post("/api/generate", json={"text": "calm piano", **body})
    assert r.status_code == 422 and r.json()["message"].startswith(message), r.text


def test_a_sync_call_measures_its_length_in_bars(controlled, tiny_control_pipeline):
    r = controlled.post("/api/generate/sync", json={"text": "calm piano", "bars": 4, "bpm": 120, "duration": 2.0, **FAST})
    assert r.status_code == 422 and r.json()["message"].startswith("bars: 4 bars last 8.00 s; at most 5 s for a synchronous call")
    assert r.json()["detail"][0]["loc"] == ["body", "bars"]
    r = controlled.post("/api/generate/sync", json={"text": "calm piano", "bars": 1, "bpm": 60, "meter": 3, "duration": 20.0, **FAST})
    assert r.status_code == 200, r.text  # 3 s, whatever duration says
    samples, sr = read_wav(r.content)
    assert len(samples) == 3 * sr
    assert submitted(controlled) == 1


ASKED_OF_A_MODEL_WITHOUT_CONTROLS = [
    ({"bpm": 100}, "bpm: this model has no musical controls: bpm needs a model trained with them"),
    ({"key": "A minor"}, "key: this model has no musical controls: key needs a model trained with them"),
    ({"meter": "3/4"}, "meter: this model has no musical controls: meter needs a model trained with them"),
    ({"drums": False}, "drums: this model has no musical controls: drums needs a model trained with them"),
    ({"bars": 4}, "bars: this model has no musical controls: bars needs a model trained with them"),
    ({"bpm": 100, "bars": 4, "loop": True}, "bpm: this model has no musical controls: bpm, bars need a model trained with them"),
]


@pytest.mark.parametrize("body,message", ASKED_OF_A_MODEL_WITHOUT_CONTROLS)
def test_controls_asked_of_a_model_without_them_are_422_at_submit_time(plain, body, message):
    for path in ("/api/generate", "/api/generate/sync"):
        r = plain.post(path, json={"text": "calm piano", "duration": 1.0, **body})
        assert r.status_code == 422, r.text
        assert r.json()["message"] == message
        assert r.json()["detail"] == [{"type": "value_error", "loc": ["body", message.split(":")[0]], "msg": message.split(": ", 1)[1]}]
    assert submitted(plain) == 0  # refused before anything was queued
    for neutral in ({"text_controls": False}, {"loop": True}, {"bpm": None, "key": None, "meter": None, "drums": None, "bars": None}):
        assert plain.post("/api/generate", json={"text": "calm piano", "duration": 1.0, **FAST, **neutral}).status_code == 202
