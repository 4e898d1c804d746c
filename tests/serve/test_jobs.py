"""The job queue on its own: ids, bounds, progress, shutdown, folders left by killed servers, Retry-After."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.serve.conftest import BlockingPipeline
from text2music.generate.settings import GenerationSettings
from text2music.serve.jobs import OWNER_FILE, TEMP_PREFIX, JobQueue, QueueFull, make_server_dir, owner_alive, sweep_stale, valid_id


def test_ids_are_strict():
    assert valid_id("0123456789abcdef" * 2)
    for bad in ["", "../../etc/passwd", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "0" * 31 + "\n", None, 5]:
        assert not valid_id(bad)


def test_progress_goes_up_to_one_and_files_appear(tiny_pipeline, tmp_path):
    seen = []
    queue = JobQueue(tiny_pipeline, out_dir=tmp_path)
    try:
        job = queue.submit("calm piano", GenerationSettings(duration=1.0, steps=3))
        assert valid_id(job.id) and job.folder == tmp_path / job.id
        queue.wait(job.id, timeout=60)
        seen.append(job.progress)
        assert job.status == "done" and job.progress == 1.0 and job.audio_path.is_file() and job.image_path.is_file()
        assert job.started >= job.created and job.finished >= job.started
    finally:
        queue.close()
    assert tmp_path.is_dir()  # a folder the caller gave is left in place


def test_no_waiting_room_with_max_queue_zero_and_shutdown_fails_waiting_jobs(tiny_pipeline):
    pipe = BlockingPipeline(tiny_pipeline)
    queue = JobQueue(pipe, workers=1, max_queue=0)
    folder = queue.out_dir
    running = queue.submit("a", GenerationSettings(duration=1.0, steps=1))
    assert pipe.started.wait(10)
    with pytest.raises(QueueFull) as e:
        queue.submit("b", GenerationSettings(duration=1.0, steps=1))
    assert e.value.retry_after >= 1
    pipe.release.set()
    queue.wait(running.id, 30)
    assert running.status == "done"

    queue2 = JobQueue(BlockingPipeline(tiny_pipeline), workers=1, max_queue=2)
    first = queue2.submit("a", GenerationSettings(duration=1.0, steps=1))
    assert queue2.pipeline.started.wait(10)
    waiting = queue2.submit("b", GenerationSettings(duration=1.0, steps=1))
    assert queue2.position(waiting) == 1 and queue2.position(first) == 0
    queue2.pipeline.release.set()
    queue2.close(timeout=30)
    assert waiting.status in ("failed", "done")
    queue.close()
    assert not folder.exists()  # a server-made folder is deleted at shutdown
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit("c")


@pytest.mark.parametrize("kwargs,match", [({"workers": 0}, "workers"), ({"max_queue": -1}, "max_queue"), ({"keep": 0}, "keep")])
def test_bad_settings(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        JobQueue(object(), out_dir=tmp_path, **kwargs)


def test_workers_run_jobs_at_the_same_time(tiny_pipeline):
    pipe = BlockingPipeline(tiny_pipeline)
    queue = JobQueue(pipe, workers=2, max_queue=0)
    try:
        jobs = [queue.submit(f"clip {i}", GenerationSettings(duration=1.0, steps=1)) for i in range(2)]
        deadline = time.monotonic() + 10
        while queue.stats()["running"] < 2:
            assert time.monotonic() < deadline, queue.stats()
            time.sleep(0.01)
        with pytest.raises(QueueFull):
            queue.submit("third", GenerationSettings(duration=1.0, steps=1))
        pipe.release.set()
        for job in jobs:
            queue.wait(job.id, 30)
        assert [j.status for j in jobs] == ["done", "done"]
    finally:
        pipe.release.set()
        queue.close()


# -- folders left by a killed server


def test_a_server_made_folder_names_its_owner(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    queue = JobQueue(object(), out_dir=None)
    try:
        assert queue.out_dir.parent == tmp_path and queue.out_dir.name.startswith(TEMP_PREFIX)
        assert (queue.out_dir / OWNER_FILE).read_text().split()[0] == str(os.getpid())
        assert owner_alive(queue.out_dir) is True
    finally:
        queue.close()
    assert not queue.out_dir.exists()


def test_folders_of_a_server_killed_with_sigkill_are_swept_at_the_next_start(tmp_path, monkeypatch):
    """A process makes its JobQueue (as `text2music serve` does) and is killed with -9: its folder
    stays behind until the next queue starts. Folders of live servers, folders whose owner cannot be
    told (no pid file) and other names are left alone."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from text2music.serve.jobs import JobQueue; "
            "q = JobQueue(object()); print(q.out_dir, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        killed = Path(child.stdout.readline().strip())
    finally:
        child.kill()  # SIGKILL: no cleanup runs
        child.wait(10)
    assert killed.parent == tmp_path and (killed / OWNER_FILE).is_file()
    (killed / ("0" * 32)).mkdir()  # a result of the killed server
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    alive = make_server_dir()  # this process's: alive
    unknown = tmp_path / (TEMP_PREFIX + "nopidfile")
    unknown.mkdir()
    other = tmp_path / "someone-elses-folder"
    other.mkdir()
    (other / OWNER_FILE).write_text(f"{killed.name} - x")
    assert owner_alive(killed) is False and owner_alive(unknown) is None

    queue = JobQueue(object())
    try:
        assert not killed.exists()
        assert alive.is_dir() and unknown.is_dir() and other.is_dir() and queue.out_dir.is_dir()
    finally:
        queue.close()


def test_a_reused_pid_does_not_keep_a_folder(tmp_path):
    folder = tmp_path / (TEMP_PREFIX + "reused")
    folder.mkdir()
    (folder / OWNER_FILE).write_text(f"{os.getpid()} 1 {socket.gethostname()}\n")  # our pid, another start time
    assert owner_alive(folder) is False
    assert sweep_stale(tmp_path) == [folder] and not folder.exists()


# -- Retry-After: the estimated time until a running job finishes


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def retry_after_of(queue) -> int:
    with pytest.raises(QueueFull) as e:
        queue.submit("one too many", GenerationSettings(duration=1.0, steps=1))
    assert e.value.retry_after == queue.retry_after() or abs(e.value.retry_after - queue.retry_after()) <= 1
    return e.value.retry_after


def test_retry_after_before_any_job_finished_scales_with_the_requested_work(tiny_pipeline, tmp_path):
    answers = {}
    for name, settings in [
        ("small", GenerationSettings(duration=1.0, steps=1)),
        ("large", GenerationSettings(duration=20.0, steps=100, sampler="heun")),
    ]:
        pipe = BlockingPipeline(tiny_pipeline)
        queue = JobQueue(pipe, workers=1, max_queue=0, out_dir=tmp_path / name)
        try:
            queue.submit("calm piano", settings)
            assert pipe.started.wait(10)
            answers[name] = retry_after_of(queue)
        finally:
            pipe.release.set()
            queue.close(timeout=30)
    assert answers["small"] <= 2 and answers["large"] >= 20, answers


def test_retry_after_follows_a_running_jobs_own_progress(tiny_pipeline, tmp_path):
    """1 of 40 evaluations done after ~1 s: about 40 s in all, whatever the first guess says."""
    pipe = BlockingPipeline(tiny_pipeline, report=(1, 40))
    queue = JobQueue(pipe, workers=1, max_queue=0, out_dir=tmp_path)
    try:
        job = queue.submit("calm piano", GenerationSettings(duration=1.0, steps=40))
        wait_for(lambda: job.progress > 0)
        time.sleep(1.0)
        assert 20 <= retry_after_of(queue) <= 200
    finally:
        pipe.release.set()
        queue.close(timeout=30)


def test_retry_after_uses_the_measured_time_of_finished_jobs(tiny_pipeline, tmp_path):
    """A job that took >= 1 s, then one with 10 times its work: about 10 s, not the last job's time."""
    pipe = BlockingPipeline(tiny_pipeline)
    queue = JobQueue(pipe, workers=1, max_queue=0, out_dir=tmp_path)
    try:
        first = queue.submit("calm piano", GenerationSettings(duration=1.0, steps=2))
        assert pipe.started.wait(10)
        time.sleep(1.0)
        pipe.release.set()
        queue.wait(first.id, 30)
        assert first.status == "done"
        measured = first.finished - first.started
        pipe.release.clear()
        pipe.started.clear()
        queue.submit("calm piano", GenerationSettings(duration=1.0, steps=20))
        assert pipe.started.wait(10)
        assert 10 * measured - 3 <= retry_after_of(queue) <= 10 * measured + 1, measured
    finally:
        pipe.release.set()
        queue.close(timeout=30)


def test_retry_after_with_two_workers_is_the_sooner_of_the_two(tiny_pipeline, tmp_path):
    """Two jobs nearly half done after ~0.5 s each: a place opens in well under the first guess."""
    pipe = BlockingPipeline(tiny_pipeline, report=(1, 2))
    queue = JobQueue(pipe, workers=2, max_queue=0, out_dir=tmp_path)
    try:
        jobs = [queue.submit("calm piano", GenerationSettings(duration=20.0, steps=100)) for _ in range(2)]
        wait_for(lambda: all(j.progress > 0 for j in jobs))
        time.sleep(0.5)
        assert retry_after_of(queue) <= 3
    finally:
        pipe.release.set()
        queue.close(timeout=30)
