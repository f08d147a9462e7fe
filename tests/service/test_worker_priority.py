"""``workers.local.lower_priority``: every thread of a worker process, those that numeric
libraries started before it ran included, gets the niceness and (optionally) the idle class."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread /proc")

PROBE = textwrap.dedent(
    """
    import json, os, sys, threading
    from pathlib import Path
    from meshforge.workers.local import lower_priority

    started = threading.Event()
    release = threading.Event()

    def early():  # a thread that exists before, as BLAS's do
        started.set()
        release.wait()

    thread = threading.Thread(target=early)
    thread.start()
    started.wait()
    lower_priority(int(sys.argv[1]), sys.argv[2] == "1")
    late = threading.Thread(target=release.wait)  # and one started after
    late.start()
    rows = []
    for task in Path("/proc/self/task").iterdir():
        rows.append([os.getpriority(os.PRIO_PROCESS, int(task.name)),
                     os.sched_getscheduler(int(task.name))])
    release.set()
    thread.join()
    late.join()
    print(json.dumps(rows))
    """
)


def _threads_after(increment: int, idle_class: bool) -> list[list[int]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(increment), "1" if idle_class else "0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_every_thread_gets_the_niceness_and_the_idle_class() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    rows = _threads_after(5, idle_class=True)
    assert len(rows) >= 3  # main, the early thread, the late one
    assert {tuple(r) for r in rows} == {(min(19, base + 5), os.SCHED_IDLE)}


def test_without_the_idle_class_threads_keep_the_normal_policy() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    rows = _threads_after(3, idle_class=False)
    assert len(rows) >= 3
    assert {tuple(r) for r in rows} == {(min(19, base + 3), os.SCHED_OTHER)}
