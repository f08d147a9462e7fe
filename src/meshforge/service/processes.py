"""``meshforge serve`` with several API processes (``MESHFORGE_API_PROCESSES`` > 1).

One Python process answers requests on one core. To use more, the serving process starts
``API_PROCESSES`` copies of the API, each listening on the same port (SO_REUSEPORT: the kernel
spreads connections over them), and keeps for itself what there must be only one of: the
embedded workers with the stale-job reaper, and the webhook dispatcher. What the API processes
share lives in a runtime folder named after the serving process (``<home>/service/run/<pid>``):

* the rate-limit tables (``ratelimit.SharedRateLimiter``), so a key's limit holds across them;
* the request metrics, through prometheus_client's multiprocess mode, so ``/metrics`` from any
  of them counts every request;
* the worker processes' ids, so that ``/readyz`` and ``/metrics`` report the workers.

An API process whose serving process is gone (``kill -9``) shuts itself down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from meshforge.catalog.db import Catalog, upgrade_database
from meshforge.service.settings import ServiceSettings

log = logging.getLogger("meshforge.service")

PARENT_CHECK_S = 0.5
WORKER_IDS = "workers.json"
METRICS_DIR = "metrics"


def runtime_dir(settings: ServiceSettings, server_pid: int) -> Path:
    return settings.service_dir / "run" / str(server_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PoolView:
    """The serving process's worker pool as an API process sees it: how many are alive."""

    def __init__(self, runtime: Path) -> None:
        self.path = runtime / WORKER_IDS

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in json.loads(self.path.read_text())]
        except (OSError, ValueError):
            return []

    def alive(self) -> int:
        return sum(1 for pid in self.pids() if _alive(pid))


async def exit_with_parent() -> None:
    """Ask this process to shut down (SIGTERM: draining its requests) once its serving
    process is gone; otherwise it would go on answering with no workers behind it."""
    parent = os.getppid()
    while os.getppid() == parent and _alive(parent):
        await asyncio.sleep(PARENT_CHECK_S)
    os.kill(os.getpid(), signal.SIGTERM)


def _remove_stale(run: Path) -> None:
    """Runtime folders of servers that are gone (killed before they could clean up)."""
    if not run.is_dir():
        return
    for folder in run.iterdir():
        if folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)


def _listening_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    return sock


def _api_process_main(host: str, port: int, graceful_s: int) -> None:
    """One API process: its own listening socket on the shared port (SO_REUSEPORT), so that
    the kernel spreads new connections evenly over the processes; on one shared socket, the
    process that wakes first takes a whole burst of them."""
    import uvicorn

    from meshforge.service.app import create_app

    sock = _listening_socket(host, port, listen=True)
    config = uvicorn.Config(
        create_app(api_process=True), log_level="warning", timeout_graceful_shutdown=graceful_s
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(settings: ServiceSettings, host: str, port: int) -> None:
    """Run the API in ``settings.api_processes`` processes, the workers and the webhook
    dispatcher here. An API process that dies is started again. On SIGTERM or Ctrl-C the API
    processes finish their requests, then the running jobs are drained as with one process."""
    from meshforge.service.app import start_background
    from meshforge.service.logs import configure_logging

    configure_logging(settings.log_json)
    runtime = runtime_dir(settings, os.getpid())
    _remove_stale(runtime.parent)
    shutil.rmtree(runtime, ignore_errors=True)
    (runtime / METRICS_DIR).mkdir(parents=True)
    # Read by prometheus_client when the API processes import it (they start afresh).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(runtime / METRICS_DIR)
    # Bound, not listening: it holds the port (and resolves port 0) for the API processes.
    reserved = _listening_socket(host, port, listen=False)
    port = reserved.getsockname()[1]
    upgrade_database(settings.catalog_url)
    catalog = Catalog(settings.catalog_url)
    background = start_background(settings, catalog, settings.signing_key(), publisher=False)
    context = multiprocessing.get_context("spawn")
    graceful_s = int(settings.drain_timeout_s) + 5
    stopping = threading.Event()

    def start_api_process() -> Any:
        process = context.Process(
            target=_api_process_main, args=(host, port, graceful_s), name="meshforge-api"
        )
        process.start()
        return process

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes: list[Any] = []
    try:
        (runtime / WORKER_IDS).write_text(json.dumps(background.pool.pids()))
        processes = [start_api_process() for _ in range(settings.api_processes)]
        log.info("serving on %s:%s with %d API processes", host, port, settings.api_processes)
        while not stopping.wait(PARENT_CHECK_S):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    log.warning(
                        "API process %s exited (%s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    processes[index] = start_api_process()
    finally:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(graceful_s + 5)
            if process.is_alive():
                process.kill()
        reserved.close()
        background.stop(settings.drain_timeout_s)
        catalog.dispose()
        shutil.rmtree(runtime, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
