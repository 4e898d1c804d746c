"""The HTTP API: submit, poll, fetch; validation (422), a full queue (429), unknown ids (404)."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from tests.serve.conftest import BlockingPipeline
from text2music.generate.pipeline import DEFAULTS, MAX_DURATION, MAX_STEPS, MAX_TEXT_CHARS, MIN_DURATION
from text2music.serve.app import SYNC_MAX_DURATION

PNG = b"\x89PNG\r\n\x1a\n"


def wait_done(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        assert 0.0 <= job["progress"] <= 1.0
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.05)


def read_wav(data: bytes):
    audio, sr = sf.read(io.BytesIO(data))
    info = sf.info(io.BytesIO(data))
    assert info.format == "WAV" and info.channels == 1
    return audio, sr


@pytest.fixture
def client(tiny_pipeline, make_app):
    return TestClient(make_app(tiny_pipeline, workers=1, max_queue=8))


def test_info_shows_the_pipeline_limits_and_defaults(client, tiny_pipeline):
    info = client.get("/api/info").json()
    assert info["model"] == {"name": "tinyflow", "kind": "flow_transformer", "sample_rate": tiny_pipeline.sample_rate,
                             "text_encoder": "all-MiniLM-L6-v2"}
    assert info["limits"]["duration"] == [MIN_DURATION, MAX_DURATION]
    assert info["limits"]["steps"] == [1, MAX_STEPS]
    assert info["limits"]["text_chars"] == MAX_TEXT_CHARS
    assert info["defaults"]["steps"] == DEFAULTS.steps and info["defaults"]["duration"] == DEFAULTS.duration
    assert info["queue"]["workers"] == 1 and info["queue"]["max_queue"] == 8
    assert len(info["examples"]) >= 3


def test_page_static_files_and_docs_are_served_by_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="generate"' in page.text and "/static/app.js" in page.text
    for path in ["/static/app.js", "/static/style.css", "/docs", "/favicon.ico"]:
        assert client.get(path).status_code == 200, path
    for page_text in (page.text, client.get("/docs").text):
        assert "https://" not in page_text and "http://" not in page_text  # nothing from a CDN: works offline
    spec = client.get("/openapi.json").json()
    assert {"/api/generate", "/api/generate/sync", "/api/jobs/{job_id}", "/api/jobs/{job_id}/audio.wav"} <= set(spec["paths"])
    body = spec["components"]["schemas"]["GenerateBody"]["properties"]
    assert body["duration"]["maximum"] == MAX_DURATION and body["text"]["maxLength"] == MAX_TEXT_CHARS


def test_submit_poll_and_fetch_audio_and_image(client, tiny_pipeline):
    r = client.post("/api/generate", json={"text": "a calm solo piano piece in A minor", "duration": 2.0, "steps": 4, "seed": 7})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running") and r.headers["location"] == job["status_url"] == f"/api/jobs/{job['id']}"
    job = wait_done(client, job["id"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None
    assert job["request"] == {"text": "a calm solo piano piece in A minor", "duration": 2.0, "steps": 4, "guidance": DEFAULTS.guidance,
                              "seed": 7, "sampler": "euler"}
    audio = client.get(job["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    samples, sr = read_wav(audio.content)
    assert sr == tiny_pipeline.sample_rate and len(samples) == 2 * sr
    image = client.get(job["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(PNG)


def test_same_seed_same_clip(client):
    ids = [client.post("/api/generate", json={"text": "sad strings", "duration": 1.0, "steps": 2, "seed": 3}).json()["id"] for _ in range(2)]
    clips = [client.get(wait_done(client, i)["audio_url"]).content for i in ids]
    assert ids[0] != ids[1] and clips[0] == clips[1]


def test_sync_call_answers_with_the_wav(client, tiny_pipeline):
    r = client.post("/api/generate/sync", json={"text": "upbeat funk", "duration": 1.5, "steps": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    samples, sr = read_wav(r.content)
    assert sr == tiny_pipeline.sample_rate and len(samples) == round(1.5 * sr)
    assert client.get(f"/api/jobs/{r.headers['x-job-id']}").json()["status"] == "done"
    r = client.post("/api/generate/sync", json={"text": "upbeat funk", "duration": SYNC_MAX_DURATION + 1})
    assert r.status_code == 422 and "/api/generate" in r.json()["message"]


BAD = [
    ({"text": ""}, "text"),
    ({"text": "   "}, "text: text is empty"),
    ({"text": "x" * (MAX_TEXT_CHARS + 1)}, f"text: String should have at most {MAX_TEXT_CHARS} characters"),
    ({"text": "ok", "duration": 0.5}, "duration: Input should be greater than or equal to 1"),
    ({"text": "ok", "duration": MAX_DURATION + 1}, "duration: Input should be less than or equal to 20"),
    ({"text": "ok", "duration": "long"}, "duration"),
    ({"text": "ok", "steps": 0}, "steps"),
    ({"text": "ok", "steps": MAX_STEPS + 1}, "steps: Input should be less than or equal to 100"),
    ({"text": "ok", "steps": 2.5}, "steps"),
    ({"text": "ok", "guidance": 0.5}, "guidance"),
    ({"text": "ok", "guidance": 16}, "guidance"),
    ({"text": "ok", "seed": -1}, "seed"),
    ({"text": "ok", "sampler": "dpm"}, "sampler"),
    ({"text": "ok", "path": "../../etc/passwd"}, "path: Extra inputs are not permitted"),
    ({}, "text: Field required"),
]


@pytest.mark.parametrize("body,message", BAD, ids=[m.split(":")[0] + "-" + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_input_is_422_with_a_clear_message(client, body, message):
    for path in ("/api/generate", "/api/generate/sync"):
        r = client.post(path, json=body)
        assert r.status_code == 422, r.text
        out = r.json()
        assert message in out["message"], out["message"]
        assert "x" * 100 not in r.text  # the input is not echoed back
    assert client.get("/api/info").json()["queue"]["submitted"] == 0


def test_body_that_is_not_json_is_422(client):
    r = client.post("/api/generate", content=b"text=hello", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["message"]


def test_full_queue_answers_429_with_retry_after(tiny_pipeline, make_app):
    pipe = BlockingPipeline(tiny_pipeline)
    app = make_app(pipe, workers=1, max_queue=2)
    client = TestClient(app)
    body = {"text": "energetic rock", "duration": 1.0, "steps": 2}
    first = client.post("/api/generate", json=body)
    assert first.status_code == 202 and pipe.started.wait(10)
    queued = [client.post("/api/generate", json=body) for _ in range(2)]
    assert [r.status_code for r in queued] == [202, 202]
    assert [client.get(r.json()["status_url"]).json()["queue_position"] for r in queued] == [1, 2]
    for path in ("/api/generate", "/api/generate/sync"):
        r = client.post(path, json=body)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1 and "retry in" in r.json()["message"]
    assert client.get(queued[0].json()["status_url"] + "/audio.wav").status_code == 409  # not finished yet
    pipe.release.set()
    for r in [first, *queued]:
        assert wait_done(client, r.json()["id"])["status"] == "done"
    assert client.post("/api/generate", json=body).status_code == 202  # room again
    stats = client.get("/api/info").json()["queue"]
    assert stats["rejected"] == 2 and stats["submitted"] == 4


@pytest.mark.parametrize("job_id", ["0" * 32, "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                    "A" * 32, "0" * 31, "0" * 33, "abc%00def", ".."])
def test_unknown_or_malformed_ids_are_404(client, job_id):
    for suffix in ("", "/audio.wav", "/image.png"):
        r = client.get(f"/api/jobs/{job_id}{suffix}")
        assert r.status_code == 404, (job_id, suffix, r.status_code)
        assert b"root:" not in r.content


def test_results_are_files_in_the_server_folder_named_by_the_server(tiny_pipeline, make_app, tmp_path):
    out = tmp_path / "owned"
    client = TestClient(make_app(tiny_pipeline, out_dir=out))
    job = wait_done(client, client.post("/api/generate", json={"text": "../../x.wav", "duration": 1.0, "steps": 2}).json()["id"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        [f"{job['id']}/audio.wav", f"{job['id']}/image.png"]


def test_old_jobs_are_evicted_with_their_files(tiny_pipeline, make_app, tmp_path):
    client = TestClient(make_app(tiny_pipeline, keep=2, out_dir=tmp_path / "r"))
    ids = []
    for i in range(3):
        ids.append(client.post("/api/generate", json={"text": f"piece {i}", "duration": 1.0, "steps": 1}).json()["id"])
        wait_done(client, ids[-1])
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404
    assert client.get(f"/api/jobs/{ids[0]}/audio.wav").status_code == 404
    assert not (tmp_path / "r" / ids[0]).exists()
    assert all(client.get(f"/api/jobs/{i}").status_code == 200 for i in ids[1:])


def test_a_failed_generation_is_reported_and_the_server_goes_on(tiny_pipeline, make_app):
    pipe = BlockingPipeline(tiny_pipeline, fail=True)
    pipe.release.set()
    client = TestClient(make_app(pipe))
    job = wait_done(client, client.post("/api/generate", json={"text": "anything", "duration": 1.0, "steps": 1}).json()["id"])
    assert job["status"] == "failed" and "boom" in job["error"] and job["audio_url"] is None
    assert client.get(f"/api/jobs/{job['id']}/audio.wav").status_code == 410
    pipe.fail = False
    job = wait_done(client, client.post("/api/generate", json={"text": "anything", "duration": 1.0, "steps": 1}).json()["id"])
    assert job["status"] == "done"


def test_real_server_under_concurrent_requests_answers_every_one(tiny_pipeline, make_app, live_server):
    """A real uvicorn on loopback, 16 requests at once, 1 worker, queue of 3: each is 200 or 429, never 500."""
    url = live_server(make_app(tiny_pipeline, workers=1, max_queue=3))
    body = {"text": "sad strings in D minor, slow", "duration": 1.0, "steps": 2}

    def call(_):
        with httpx.Client(base_url=url, timeout=60) as c:
            return c.post("/api/generate/sync", json=body)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(16)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429} and codes.count(200) >= 4, codes
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)
    assert all(len(sf.read(io.BytesIO(r.content))[0]) == tiny_pipeline.sample_rate for r in answers if r.status_code == 200)
    assert httpx.get(url + "/api/info").json()["queue"]["running"] == 0
