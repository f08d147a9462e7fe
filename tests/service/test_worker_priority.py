"""``workers.local.lower_priority``: every thread of a worker process, those that numeric
libraries started before it ran included, gets the niceness."""

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
    lower_priority(int(sys.argv[1]))
    late = threading.Thread(target=release.wait)  # and one started after
    late.start()
    nice = [os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in Path("/proc/self/task").iterdir()]
    release.set()
    thread.join()
    late.join()
    print(json.dumps(nice))
    """
)


@pytest.mark.parametrize("increment", [3, 10])
def test_every_thread_gets_the_niceness(increment: int) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(increment)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    nice = json.loads(done.stdout)
    assert len(nice) >= 3  # main, the early thread, the late one
    assert set(nice) == {min(19, base + increment)}
