"""Uploading audio over HTTP: continue it, inpaint a span of it; bad uploads are 422 before queueing."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from tests.serve.test_app import read_wav, wait_done


def wav_b64(audio: np.ndarray, sr: int, channels: int = 1) -> str:
    buf = io.BytesIO()
    sf.write(buf, np.stack([audio] * channels, axis=1) if channels > 1 else audio, sr, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def tones(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-4 * (t % 0.5))).astype(np.float32)


@pytest.fixture
def client(tiny_pipeline, make_app):
    return TestClient(make_app(tiny_pipeline))


def test_an_uploaded_clip_is_continued_and_another_inpainted_with_its_outside_kept(client, tiny_pipeline):
    sr = tiny_pipeline.sample_rate
    take = tones(2.0, sr)
    stereo = wav_b64(tones(2.0, 44100), 44100, channels=2)  # any rate and channels: resampled, mixed down
    body = {"text": "soft piano", "steps": 2, "init_mode": "continue", "duration": 3.0, "init_audio": stereo}
    job = wait_done(client, client.post("/api/generate", json=body).json()["id"])
    assert job["status"] == "done" and job["request"]["init_mode"] == "continue"
    audio, rate = read_wav(client.get(job["audio_url"]).content)
    assert rate == sr and len(audio) == 3 * sr

    body = {"text": "soft piano", "steps": 2, "init_mode": "inpaint", "span": "0.5-1.0", "init_audio": wav_b64(take, sr)}
    job = wait_done(client, client.post("/api/generate", json=body).json()["id"])
    audio, _ = read_wav(client.get(job["audio_url"]).content)
    kept = sf.read(io.BytesIO(base64.b64decode(body["init_audio"])), dtype="float64")[0]
    assert len(audio) == len(kept) and np.abs(audio[sr:] - kept[sr:]).max() < 1e-4 and np.abs(audio[:8000] - kept[:8000]).max() < 1e-4
    assert np.abs(audio[8400:15600] - kept[8400:15600]).max() > 1e-3  # the span is new


@pytest.mark.parametrize(
    "change, message",
    [
        ({"init_audio": "not base64!"}, "init_audio: is not base64"),
        ({"init_audio": base64.b64encode(b"hello").decode()}, "init_audio: is not a readable audio file"),
        ({"init_audio": "SILENT"}, "init_audio: is silent"),
        ({"init_audio": "SHORT"}, "init_audio: lasts 0.50 s; a continuation needs at least 1 s"),
        ({"init_audio": None}, "init_audio: init_mode continue needs init_audio"),
        ({"init_mode": "inpaint", "span": "1-3"}, "span: 1-3 s ends after"),
        ({"init_mode": "inpaint", "span": "0-11"}, "span: 0-11 lasts 11 s"),
        ({"duration": 2.5}, "duration: "),
    ],
)
def test_bad_uploads_are_422_naming_the_field_before_anything_is_queued(client, tiny_pipeline, change, message):
    sr = tiny_pipeline.sample_rate
    body = {"text": "soft piano", "init_mode": "continue", "duration": 5.0, "init_audio": wav_b64(tones(2.0, sr), sr)} | change
    body["init_audio"] = {"SILENT": wav_b64(np.zeros(2 * sr, np.float32), sr), "SHORT": wav_b64(tones(0.5, sr), sr)}.get(
        body["init_audio"], body["init_audio"]
    )
    r = client.post("/api/generate", json=body)
    assert r.status_code == 422 and r.json()["message"].startswith(message), r.json()
    assert "\n" not in r.json()["message"]
    assert client.get("/api/info").json()["queue"]["submitted"] == 0


def test_info_offers_the_init_settings_and_their_limits(client):
    info = client.get("/api/info").json()
    assert info["limits"]["duration"] == [1.0, 300.0]
    assert "init_mode" in info["defaults"] and info["defaults"]["init_mode"] == "variation"
