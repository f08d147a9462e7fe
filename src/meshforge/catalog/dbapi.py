"""Core statements compiled once and run on the DB-API cursor of an SQLite connection.

The API's inline catalog work (``Catalog.inline``: an SQLite file, on the event loop) is a few
single-row statements per request, and SQLAlchemy's execution machinery around each (execution
context, result object, pool events) costs about four times the statement: 0.12 ms against
0.03 ms for a key lookup. ``Prepared`` keeps the statement as Core (one definition, compiled by
SQLAlchemy for the dialect) and runs the compiled SQL on the driver's cursor, converting values
with the column types' own bind and result processors (JSON text, booleans). A statement it
cannot run as compiled (a Python-side column default left to fill in, a driver with another
parameter style) is refused when first compiled (``NotPreparableError``): such a caller belongs
on Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any] | None


class NotPreparableError(Exception):
    """The statement needs SQLAlchemy's execution (a Python-side default, say)."""


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the bind parameters, in the order of the SQL's placeholders
    defaults: dict[str, Any]  # values bound in the statement itself (``state == "queued"``)
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    columns: tuple[str, ...]  # the names of the result columns

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = [params[n] if n in params else self.defaults[n] for n in self.names]
        return [v if p is None else p(v) for v, p in zip(values, self.binds, strict=True)]

    def convert(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            name: value if process is None else process(value)
            for name, value, process in zip(self.columns, row, self.results, strict=True)
        }


def compile_for(
    statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None
) -> Compiled:
    if dialect.paramstyle != "qmark":
        raise NotPreparableError(f"paramstyle {dialect.paramstyle}")
    compiled: Any = statement.compile(
        dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
    )
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        raise NotPreparableError("Python-side column defaults")
    names = tuple(compiled.positiontup or ())
    binds = tuple(
        compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
    )
    selected = getattr(statement, "selected_columns", ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected)
    defaults = {n: compiled.binds[n].value for n in names if compiled.binds[n].value is not None}
    return Compiled(
        compiled.string, names, defaults, binds, results, tuple(c.name for c in selected)
    )


class Prepared:
    """A Core statement and its compiled forms, one per dialect and set of inserted columns."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], Compiled] = {}

    def compiled(self, dialect: Dialect, column_keys: Sequence[str] | None = None) -> Compiled:
        key = (dialect.name, tuple(column_keys) if column_keys is not None else None)
        if key not in self._compiled:
            self._compiled[key] = compile_for(self.statement, dialect, column_keys)
        return self._compiled[key]

    def rows(self, raw: Any, dialect: Dialect, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The result rows, by column name, with the column types' values."""
        compiled = self.compiled(dialect)
        cursor = raw.cursor()
        try:
            cursor.execute(compiled.sql, compiled.arguments(params))
            return [compiled.convert(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def scalar(self, raw: Any, dialect: Dialect, params: dict[str, Any]) -> Any:
        """The first column of the first row (None without rows)."""
        found = self.rows(raw, dialect, params)
        return next(iter(found[0].values())) if found else None

    def execute(self, raw: Any, dialect: Dialect, params: dict[str, Any]) -> None:
        """An INSERT of ``params`` (column name -> value), compiled for exactly those columns."""
        compiled = self.compiled(dialect, sorted(params))
        cursor = raw.cursor()
        try:
            cursor.execute(compiled.sql, compiled.arguments(params))
        finally:
            cursor.close()
