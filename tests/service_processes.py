"""``meshforge serve`` as a real process for the tests: its process tree seen through /proc, and
a deployment (catalog, storage, environment) that servers are started on and killed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import Job
from service_harness import free_port, new_database, service_env


def meshforge_command() -> list[str]:
    exe = shutil.which("meshforge", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "meshforge.cli"]


# --- processes, seen through /proc (no psutil needed) -------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time in ticks) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``: {pid: start time} (the start time tells a reused pid)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] != "Z":
                parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            if child not in found:
                found[child] = started
                todo.append(child)
    return found


def alive(processes: dict[int, int]) -> list[int]:
    """The pids of ``processes`` still running (a zombie or a reused pid counts as gone)."""
    out = []
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[2] == started:
            out.append(pid)
    return out


def kill_all(processes: dict[int, int]) -> None:
    for pid in alive(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- one server process -------------------------------------------------------------------------


@dataclass
class Deployment:
    """A catalog, a storage folder and the environment every server process on them gets."""

    tmp: Path
    database_url: str
    env: dict[str, str]
    key: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    seen: dict[int, int] = field(default_factory=dict)
    port: int = 0

    @property
    def storage(self) -> Path:
        return self.tmp / "storage"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*meshforge_command(), *args], env=self.env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode()

    def start(self) -> subprocess.Popen[bytes]:
        """A new server (in its own session, so its whole group can be killed at the end)."""
        self.port = free_port()
        log = (self.tmp / f"serve-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [*meshforge_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server exited:\n{self.logs()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{self.logs()}"
            time.sleep(0.1)
        self.record(process)
        return process

    def record(self, process: subprocess.Popen[bytes]) -> dict[int, int]:
        children = descendants(process.pid)
        self.seen.update(children)
        return children

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.tmp.glob("serve-*.log"))
        )

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        kill_all(self.seen)

    def jobs(self) -> dict[str, Job]:
        catalog = Catalog(self.database_url)
        try:
            with catalog.session() as session:
                return {job.id: job for job in session.scalars(select(Job))}
        finally:
            catalog.dispose()


@contextmanager
def deployed(tmp: Path, backend: str, key_name: str, **extra: str) -> Iterator[Deployment]:
    """A fresh catalog of ``backend``, the service environment (with ``extra``) and an API key
    named ``key_name``; every server started on it is killed and the catalog removed after."""
    database_url, drop = new_database(backend, tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHFORGE_")}
    env |= service_env(database_url, tmp / "storage", tmp / "home", **extra)
    deployment = Deployment(tmp, database_url, env)
    try:
        deployment.key = deployment.cli("keys", "create", key_name).strip().splitlines()[-1]
        yield deployment
    finally:
        try:
            deployment.cleanup()
        finally:
            drop()
