"""The HTTP API: submit, poll, fetch; validation (422), a full queue (429), unknown ids (404)."""

from __future__ import annotations

import io
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from tests.serve.conftest import BlockingPipeline
from text2music.generate.sampling import SAMPLERS
from text2music.generate.settings import MAX_DURATION, MAX_STEPS, MAX_TEXT_CHARS, MIN_DURATION, GenerationSettings
from text2music.serve.app import MAX_BODY_BYTES, SYNC_MAX_DURATION

PNG = b"\x89PNG\r\n\x1a\n"
DEFAULTS = GenerationSettings()


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
    assert info["model"] == {
        "name": "tinyflow",
        "kind": "flow_transformer",
        "sample_rate": tiny_pipeline.sample_rate,
        "text_encoder": "all-MiniLM-L6-v2",
        "controls": False,
        "vocoder": "griffin-lim",
        "vocoder_rate": 16000,
        "adapter": None,
        "precision": "float32",
    }
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
    assert job["request"] == {
        "text": "a calm solo piano piece in A minor",
        "duration": 2.0,
        "steps": 4,
        "guidance": DEFAULTS.guidance,
        "seed": 7,
        "sampler": "euler",
        "shift": DEFAULTS.shift,
        "drum_free_guidance": DEFAULTS.drum_free_guidance,
        "drum_free_until": DEFAULTS.drum_free_until,
        "drum_free_part": DEFAULTS.drum_free_part,
        "normalize": True,
        "sample_rate": None,
        "reverb": None,
        "channels": 1,
        "strength": DEFAULTS.strength,
        "init_mode": "variation",
        "span": None,
        "bpm": None,
        "key": None,
        "meter": None,
        "drums": None,
        "bars": None,
        "loop": False,
        "text_controls": True,
    }
    assert job["controls"] == [{"bpm": None, "key": None, "meter": None, "drums": None, "duration": 2.0}] and job["notes"] == []
    audio = client.get(job["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    samples, sr = read_wav(audio.content)
    assert sr == tiny_pipeline.sample_rate and len(samples) == 2 * sr
    image = client.get(job["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(PNG)


def test_normalize_can_be_turned_off_and_is_strictly_boolean(client, tiny_pipeline):
    body = {"text": "sad strings", "duration": 1.0, "steps": 2, "seed": 3}
    loud, raw = (client.post("/api/generate", json={**body, "normalize": n}).json()["id"] for n in (True, False))
    clips = [read_wav(client.get(wait_done(client, i)["audio_url"]).content)[0] for i in (loud, raw)]
    for clip, normalize in zip(clips, (True, False)):  # each is the pipeline's own clip with that setting
        own = tiny_pipeline(["sad strings"], GenerationSettings(duration=1.0, steps=2, seed=3, normalize=normalize)).audio[0]
        np.testing.assert_allclose(clip, own, atol=2 / 32768)
    r = client.post("/api/generate", json={**body, "normalize": 1})
    assert r.status_code == 422 and "normalize" in r.json()["message"]


def test_same_seed_same_clip(client):
    ids = [
        client.post("/api/generate", json={"text": "sad strings", "duration": 1.0, "steps": 2, "seed": 3}).json()["id"] for _ in range(2)
    ]
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
    r = client.post("/api/generate/sync", json={"text": "upbeat funk", "duration": 1.5, "steps": 2, "sample_rate": 44100})
    samples, sr = read_wav(r.content)
    assert sr == 44100 and len(samples) == round(1.5 * 44100)


def test_stereo_is_asked_for_with_channels(client, tiny_pipeline):
    body = {"text": "upbeat funk", "duration": 1.0, "steps": 2, "seed": 5}
    r = client.post("/api/generate/sync", json={**body, "channels": 2})
    assert r.status_code == 200 and sf.info(io.BytesIO(r.content)).channels == 2
    left, right = sf.read(io.BytesIO(r.content))[0].T
    mono = tiny_pipeline(["upbeat funk"], GenerationSettings(duration=1.0, steps=2, seed=5)).audio[0]
    np.testing.assert_allclose((left + right) / 2, mono, atol=2 / 32768)
    job = client.post("/api/generate", json={**body, "channels": 2}).json()
    assert wait_done(client, job["id"])["request"]["channels"] == 2


def test_reverb_is_asked_for_by_name(client, tiny_pipeline):
    body = {"text": "a classical waltz", "duration": 1.0, "steps": 2, "seed": 5, "reverb": 0.5}
    r = client.post("/api/generate/sync", json=body)
    want = tiny_pipeline(["a classical waltz"], GenerationSettings(duration=1.0, steps=2, seed=5, reverb=0.5)).audio[0]
    np.testing.assert_allclose(sf.read(io.BytesIO(r.content))[0], want, atol=2 / 32768)
    assert client.post("/api/generate/sync", json={**body, "reverb": "hall"}).status_code == 422
    r = client.post("/api/generate/sync", json={**body, "reverb": 3})
    assert r.status_code == 422 and "reverb" in r.text


BAD = [
    ({"text": ""}, "text"),
    ({"text": "   "}, "text: text is empty"),
    ({"text": "\u200b\u200b"}, "text: text is empty (no visible characters)"),
    ({"text": "x" * (MAX_TEXT_CHARS + 1)}, f"text: text is {MAX_TEXT_CHARS + 1} characters long; the limit is {MAX_TEXT_CHARS}"),
    ({"text": 5}, "text: Input should be a valid string"),
    ({"text": "ok", "duration": 0.5}, "duration: must be between 1 and 300 seconds, got 0.5"),
    ({"text": "ok", "duration": MAX_DURATION + 1}, "duration: must be between 1 and 300 seconds"),
    ({"text": "ok", "duration": "long"}, "duration: Input should be a valid number"),
    ({"text": "ok", "duration": "4"}, "duration: Input should be a valid number"),
    ({"text": "ok", "duration": True}, "duration: Input should be a valid number"),  # JSON booleans are not numbers
    ({"text": "ok", "steps": True}, "steps: Input should be a valid integer"),
    ({"text": "ok", "guidance": False}, "guidance: Input should be a valid number"),
    ({"text": "ok", "seed": True}, "seed: Input should be a valid integer"),
    ({"text": "ok", "steps": 0}, "steps: must be between 1 and 100, got 0"),
    ({"text": "ok", "steps": MAX_STEPS + 1}, "steps: must be between 1 and 100"),
    ({"text": "ok", "steps": 2.5}, "steps: Input should be a valid integer"),
    ({"text": "ok", "steps": 4.0}, "steps: Input should be a valid integer"),
    ({"text": "ok", "guidance": 0.5}, "guidance: must be between 1 and 15"),
    ({"text": "ok", "guidance": 16}, "guidance: must be between 1 and 15"),
    ({"text": "ok", "seed": -1}, "seed: must be between 0 and 2147483647"),
    ({"text": "ok", "shift": 20}, "shift: must be between 0.25 and 10, got 20"),
    ({"text": "ok", "shift": "3"}, "shift: Input should be a valid number"),
    ({"text": "ok", "sampler": "dpm"}, "sampler: 'dpm' is unknown; choose one of " + ", ".join(SAMPLERS)),
    ({"text": "ok", "sampler": 1}, "sampler: Input should be a valid string"),
    ({"text": "ok", "sample_rate": 12345}, "sample_rate: 12345 is unknown; choose one of 16000, 22050, 32000, 44100, 48000"),
    ({"text": "ok", "channels": 3}, "channels: 3 is unknown; choose one of 1, 2"),
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


def test_out_of_range_errors_name_the_field_in_detail_too(client):
    r = client.post("/api/generate", json={"text": "ok", "duration": 500})
    assert r.status_code == 422 and r.json()["detail"] == [
        {"type": "value_error", "loc": ["body", "duration"], "msg": "must be between 1 and 300 seconds, got 500"}
    ]


NOT_A_JSON_OBJECT = [
    (b"text=hello", "the request body is not valid JSON: Expecting value at line 1, column 1"),
    (b'{"text": "calm piano" "duration": 2}', "the request body is not valid JSON: Expecting ',' delimiter at line 1, column 23"),
    (b'{"text": "calm piano",\n "steps": }', "the request body is not valid JSON: Expecting value at line 2, column 11"),
    (b'{"text": "calm piano"', "the request body is not valid JSON: Expecting ',' delimiter at line 1, column 22"),
    (b"", 'the request body is empty; send a JSON object such as {"text": "calm piano"}'),
    (b'["calm piano"]', 'the request body must be a JSON object such as {"text": "calm piano"}'),
    (b'"calm piano"', 'the request body must be a JSON object such as {"text": "calm piano"}'),
    (b'{"text": "\\ud800"}', "text: text is not valid UTF-8"),  # a lone surrogate escape
]


@pytest.mark.parametrize("body,message", NOT_A_JSON_OBJECT)
def test_a_body_that_is_not_a_json_object_is_422_saying_what_and_where(client, body, message):
    r = client.post("/api/generate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["message"] == message


def test_a_body_sent_as_another_content_type_is_422_saying_so(client):
    r = client.post("/api/generate", content=b'{"text": "calm piano"}', headers={"content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["message"] == "the request body must be JSON, sent with Content-Type: application/json"
    r = client.post("/api/generate", content=b'{"text": "\xff"}', headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and "JSON" in r.json()["message"]


def test_unknown_paths_and_methods_answer_in_the_same_shape(client):
    assert client.get("/api/nothing").json() == {"message": "Not Found"}
    r = client.get("/api/generate")
    assert r.status_code == 405 and r.json() == {"message": "Method Not Allowed"}


def test_a_body_over_the_limit_is_413_before_it_is_read(client, tiny_pipeline, make_app):
    big = b'{"text": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    for path in ("/api/generate", "/api/generate/sync"):
        r = client.post(path, content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["message"] == f"the request body is larger than the limit of {MAX_BODY_BYTES // 1024} KB"
    assert MAX_BODY_BYTES > 4 / 3 * 60 * 44100 * 2 * 2 + 1024  # 60 s of 44.1 kHz stereo 16-bit WAV, base64, fits
    client = TestClient(make_app(tiny_pipeline, max_body=64 * 1024))
    chunks = (b'{"text": "' if i == 0 else b"x" * 8192 for i in range(100))  # no Content-Length: sent chunked
    r = client.post("/api/generate", content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.post("/api/generate", json={"text": "é" * MAX_TEXT_CHARS, "duration": 1.0, "steps": 1}).status_code == 202
    assert client.get("/api/info").json()["queue"]["submitted"] == 1


def raw_request(url: str, head: bytes, body_parts: list[bytes], timeout: float = 10.0) -> bytes:
    """Send a request by hand (headers, then body parts, never finishing a body that is too long)
    and return what the server answers before `timeout`."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head)
        for part in body_parts:
            if select.select([s], [], [], 0.05)[0]:  # the server has answered: stop sending, as a client would
                break
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):  # it answered and closed while we sent
                break
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        except (socket.timeout, ConnectionResetError):
            pass
        return answer


def test_a_real_server_answers_413_without_waiting_for_the_whole_body(tiny_pipeline, make_app, live_server):
    """A 10 MB Content-Length with only 1 KB sent, and a chunked body that passes the limit and never
    ends: both answered 413 at once (a server that reads the body first would wait forever)."""
    url = live_server(make_app(tiny_pipeline, max_body=64 * 1024))
    head = b"POST /api/generate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
    answer = raw_request(url, head, [b'{"text": "' + b"x" * 1000])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    head = b"POST /api/generate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"x" * 8192
    parts = [b'a\r\n{"text": "\r\n'] + [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 10  # 80 KB, no final chunk
    answer = raw_request(url, head, parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert httpx.get(url + "/api/info").json()["queue"]["submitted"] == 0


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


@pytest.mark.parametrize(
    "job_id",
    [
        "0" * 32,
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "A" * 32,
        "0" * 31,
        "0" * 33,
        "abc%00def",
        "..",
    ],
)
def test_unknown_or_malformed_ids_are_404(client, job_id):
    for suffix in ("", "/audio.wav", "/image.png"):
        r = client.get(f"/api/jobs/{job_id}{suffix}")
        assert r.status_code == 404, (job_id, suffix, r.status_code)
        assert b"root:" not in r.content


def test_results_are_files_in_the_server_folder_named_by_the_server(tiny_pipeline, make_app, tmp_path):
    out = tmp_path / "owned"
    client = TestClient(make_app(tiny_pipeline, out_dir=out))
    job = wait_done(client, client.post("/api/generate", json={"text": "../../x.wav", "duration": 1.0, "steps": 2}).json()["id"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        f"{job['id']}/audio.wav",
        f"{job['id']}/image.png",
        f"{job['id']}/job.json",
    ]


def test_old_jobs_in_the_servers_own_folder_are_evicted_with_their_files(tiny_pipeline, make_app):
    client = TestClient(make_app(tiny_pipeline, keep=2, out_dir=None))
    ids = []
    for i in range(3):
        ids.append(client.post("/api/generate", json={"text": f"piece {i}", "duration": 1.0, "steps": 1}).json()["id"])
        wait_done(client, ids[-1])
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404
    assert client.get(f"/api/jobs/{ids[0]}/audio.wav").status_code == 404
    assert not (client.app.state.queue.out_dir / ids[0]).exists()
    assert all(client.get(f"/api/jobs/{i}").status_code == 200 for i in ids[1:])
    assert client.get("/api/info").json()["queue"]["max_results"] == 2


def test_every_result_in_an_out_dir_stays_and_is_served(tiny_pipeline, make_app, tmp_path):
    """--out-dir keeps every result (36 of 100 downloads answered 404 when it evicted them too)."""
    client = TestClient(make_app(tiny_pipeline, keep=2, out_dir=tmp_path / "r"))
    ids = []
    for i in range(4):
        ids.append(client.post("/api/generate", json={"text": f"piece {i}", "duration": 1.0, "steps": 1, "seed": i}).json()["id"])
        wait_done(client, ids[-1])
    for job_id in ids:
        assert (tmp_path / "r" / job_id / "audio.wav").is_file()
        status = client.get(f"/api/jobs/{job_id}").json()
        assert status["status"] == "done" and status["request"]["seed"] == ids.index(job_id)
        assert client.get(f"/api/jobs/{job_id}/audio.wav").status_code == 200
    queue = client.get("/api/info").json()["queue"]
    assert queue["max_results"] == 2 and queue["results_kept_on_disk"] is True


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
