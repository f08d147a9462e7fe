"""Connecting to the catalog and migrating it.

SQLite gets WAL and a busy timeout so the server and its worker processes can share one file;
PostgreSQL needs nothing special. The schema is only ever changed by Alembic migrations
(``upgrade_database``), which every server runs on start, one at a time on one database.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_POOL_SIZE = 48
SQLITE_POOL_OVERFLOW = 32
MIGRATE_LOCK = 0x6D65_7368_6D69_6772  # PostgreSQL advisory lock key of migrations
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # primary result codes of a lock held elsewhere
# Inline connections do not wait for SQLite's write lock: its busy handler would sleep (1 ms
# at first) with the event loop blocked. The caller waits instead (``service.deps``).
INLINE_BUSY_TIMEOUT_MS = 0
_INLINE: ContextVar[bool] = ContextVar("meshforge_catalog_inline", default=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        pool: dict[str, Any] = {}
        if _sqlite_file(url):
            Path(make_url(url).database or "").expanduser().parent.mkdir(
                parents=True, exist_ok=True
            )
            # The API answers from a thread pool (40 threads) and the event loop at once: keep
            # that many connections open rather than opening one (and running the pragmas on
            # it) for each session past the default five, then closing it again.
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_OVERFLOW}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_file(url: str) -> bool:
    path = make_url(url).database if url.startswith("sqlite") else None
    return bool(path) and path != ":memory:" and "mode=memory" not in url


def make_inline_engine(url: str) -> Engine | None:
    """For an SQLite file: connections that do not wait for SQLite's write lock, for work done
    on the caller's thread (``Catalog.inline``); None for any other catalog.

    A local SQLite statement takes tens of microseconds, less than handing it to a thread, but
    the caller's thread (an event loop) must not sleep in SQLite's busy handler while another
    connection holds the write lock: a write that finds it taken fails at once (``is_busy``),
    keeps nothing, and the caller runs it again (``service.deps.in_catalog``)."""
    if not _sqlite_file(url):
        return None
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": INLINE_BUSY_TIMEOUT_MS / 1000},
        pool_size=2,
        max_overflow=8,
    )
    event.listen(
        engine,
        "connect",
        functools.partial(_sqlite_pragmas, busy_timeout_ms=INLINE_BUSY_TIMEOUT_MS),
    )
    return engine


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is SQLite refusing because another connection holds a lock (raised
    through SQLAlchemy, or by the driver itself on the ``catalog.dbapi`` path)."""
    driver_error = error.orig if isinstance(error, OperationalError) else error
    if not isinstance(driver_error, sqlite3.OperationalError):
        return False
    code = getattr(driver_error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)


def upgrade_database(url: str) -> None:
    """Bring the catalog at ``url`` to the newest schema (creates it when empty)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    try:
        with _sqlite_file_lock(engine), engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Held to the commit: of several servers starting at once on one database, one
                # migrates and the others then find the schema at head.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock beside an SQLite catalog file while it is migrated (the driver runs
    DDL outside the transaction, so the database's own lock does not serialise migrations)."""
    if not _sqlite_file(str(engine.url)):
        yield
        return
    path = str(engine.url.database)
    import fcntl

    with open(f"{path}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Catalog:
    """An engine and a session factory for one catalog URL (and, for an SQLite file, a second
    pair that barely waits for a lock: see ``inline``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._inline_engine = make_inline_engine(url)
        self._held = threading.local()  # each thread's driver connection (driver_connection)
        self._held_all: list[Any] = []
        self._held_lock = threading.Lock()
        self._inline_sessions = (
            sessionmaker(self._inline_engine, expire_on_commit=False)
            if self._inline_engine is not None
            else None
        )

    @property
    def _inlined(self) -> bool:
        """Inside ``inline``, for a catalog that has the inline connections."""
        return self._inline_engine is not None and _INLINE.get()

    @property
    def engine(self) -> Engine:
        if self._inlined:
            assert self._inline_engine is not None
            return self._inline_engine
        return self._engine

    @property
    def can_run_inline(self) -> bool:
        """Whether short work may run on the caller's thread (an SQLite file: no network)."""
        return self._inline_engine is not None

    @contextmanager
    def inline(self) -> Iterator[None]:
        """Within the block, this context's sessions and connections do not wait for a lock
        (``INLINE_BUSY_TIMEOUT_MS``): one held elsewhere raises an error that ``is_busy``
        recognises."""
        token = _INLINE.set(True)
        try:
            yield
        finally:
            _INLINE.reset(token)

    @contextmanager
    def driver_connection(self) -> Iterator[Any]:
        """Inside ``inline``: this thread's own DB-API connection (``catalog.dbapi``), with no
        transaction left open after the block (rolled back when it raises or did not commit);
        None elsewhere, where the caller uses Core.

        The connection is checked out of the inline pool once per thread and kept: taking it
        from the pool and giving it back for every block cost more than the statements."""
        if not self._inlined:
            yield None
            return
        raw: Any = getattr(self._held, "raw", None)
        if raw is None:
            raw = self._held.raw = self.engine.raw_connection()
            with self._held_lock:
                self._held_all.append(raw)
        try:
            yield raw
        finally:
            if raw.driver_connection.in_transaction:  # not committed: undone, lock released
                raw.rollback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, rolled back on error."""
        sessions = self._inline_sessions if self._inlined else self._sessions
        assert sessions is not None
        with sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        with self._held_lock:
            held, self._held_all = self._held_all, []
            self._held = threading.local()
        for raw in held:
            raw.close()
        self._engine.dispose()
        if self._inline_engine is not None:
            self._inline_engine.dispose()
