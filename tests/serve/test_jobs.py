"""The job queue on its own: ids, bounds, progress, shutdown."""

from __future__ import annotations

import time

import pytest

from tests.serve.conftest import BlockingPipeline
from text2music.serve.jobs import GenerationRequest, JobQueue, QueueFull, valid_id


def test_ids_are_strict():
    assert valid_id("0123456789abcdef" * 2)
    for bad in ["", "../../etc/passwd", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "0" * 31 + "\n", None, 5]:
        assert not valid_id(bad)


def test_progress_goes_up_to_one_and_files_appear(tiny_pipeline, tmp_path):
    seen = []
    queue = JobQueue(tiny_pipeline, out_dir=tmp_path)
    try:
        job = queue.submit(GenerationRequest("calm piano", duration=1.0, steps=3))
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
    running = queue.submit(GenerationRequest("a", duration=1.0, steps=1))
    assert pipe.started.wait(10)
    with pytest.raises(QueueFull) as e:
        queue.submit(GenerationRequest("b", duration=1.0, steps=1))
    assert e.value.retry_after >= 1
    pipe.release.set()
    queue.wait(running.id, 30)
    assert running.status == "done"

    queue2 = JobQueue(BlockingPipeline(tiny_pipeline), workers=1, max_queue=2)
    first = queue2.submit(GenerationRequest("a", duration=1.0, steps=1))
    assert queue2.pipeline.started.wait(10)
    waiting = queue2.submit(GenerationRequest("b", duration=1.0, steps=1))
    assert queue2.position(waiting) == 1 and queue2.position(first) == 0
    queue2.pipeline.release.set()
    queue2.close(timeout=30)
    assert waiting.status in ("failed", "done")
    queue.close()
    assert not folder.exists()  # a server-made folder is deleted at shutdown
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit(GenerationRequest("c"))


@pytest.mark.parametrize("kwargs,match", [({"workers": 0}, "workers"), ({"max_queue": -1}, "max_queue"), ({"keep": 0}, "keep")])
def test_bad_settings(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        JobQueue(object(), out_dir=tmp_path, **kwargs)


def test_workers_run_jobs_at_the_same_time(tiny_pipeline):
    pipe = BlockingPipeline(tiny_pipeline)
    queue = JobQueue(pipe, workers=2, max_queue=0)
    try:
        jobs = [queue.submit(GenerationRequest(f"clip {i}", duration=1.0, steps=1)) for i in range(2)]
        deadline = time.monotonic() + 10
        while queue.stats()["running"] < 2:
            assert time.monotonic() < deadline, queue.stats()
            time.sleep(0.01)
        with pytest.raises(QueueFull):
            queue.submit(GenerationRequest("third", duration=1.0, steps=1))
        pipe.release.set()
        for job in jobs:
            queue.wait(job.id, 30)
        assert [j.status for j in jobs] == ["done", "done"]
    finally:
        pipe.release.set()
        queue.close()
