"""Connecting to the catalog and migrating it.

SQLite gets WAL and a busy timeout so the server and its worker processes can share one file;
PostgreSQL needs nothing special. The schema is only ever changed by Alembic migrations
(``upgrade_database``), which every server runs on start, one at a time on one database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_POOL_SIZE = 48
SQLITE_POOL_OVERFLOW = 32
MIGRATE_LOCK = 0x6D65_7368_6D69_6772  # PostgreSQL advisory lock key of migrations


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        pool: dict[str, Any] = {}
        if path and path != ":memory:" and "mode=memory" not in url:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or "mode=memory" in str(engine.url):
        yield
        return
    import fcntl

    with open(f"{path}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Catalog:
    """An engine and a session factory for one catalog URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
