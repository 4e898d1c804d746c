"""Process pools whose workers never outlive the process that started them.

A `ProcessPoolExecutor` worker whose parent is killed with SIGKILL keeps running the tasks it
already holds, then waits for more forever. The workers of `worker_pool` ask the kernel to
SIGKILL them when their parent dies (Linux `prctl(PR_SET_PDEATHSIG)`), and a thread in each
also polls the parent's pid, for systems without that call.

Ctrl-C, or a kill sent to the whole process group, reaches the workers too, and a worker
interrupted in the pool's own code can leave the owner's shutdown waiting for ever (seen once: a
group kill of `data debian` left its owner waiting on two idle workers). So workers ignore SIGINT and
SIGTERM: the owner stops on them, cancels what has not started and waits for the tasks already
running, which write their files atomically.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
PARENT_POLL_S = 0.5


def _arm_death_signal() -> None:
    """Linux: SIGKILL this process when the thread that forked it (the pool's owner) ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the polling thread still stops the worker


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _init_worker(parent: int, initializer, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _arm_death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def worker_pool(jobs: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A `ProcessPoolExecutor` of `jobs` workers that end when this process ends, however it ends.

    Workers are forked where the platform can (they start at once and inherit what is imported),
    else spawned; never started by a fork server, which would be their parent instead of this
    process."""
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(), initializer, initargs))
