"""Single rows through Core statements on a pooled connection, as model instances.

The API's hot path (a key, an upload, a job by id; a job's insert) reads and writes one row at
a time, and an ORM session (unit of work, identity map, events, its own transaction) costs
several times the statement itself. Inside ``Catalog.inline`` on an SQLite file the same
statements run compiled on the driver's cursor (``catalog.dbapi``), cheaper still. The instances
these return are detached: plain values, nothing loads lazily and nothing is written back.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Select, Table, bindparam, insert, inspect, select
from sqlalchemy.engine import Connection, Row

from meshforge.catalog.db import Catalog
from meshforge.catalog.dbapi import Prepared
from meshforge.catalog.models import Base

M = TypeVar("M", bound=Base)


@functools.cache
def _fields(model: type[Base]) -> tuple[tuple[str, str], ...]:
    """(attribute, column) name pairs: they differ where a column's name is reserved by the
    ORM (``Job.metadata_`` is the column ``metadata``)."""
    return tuple((a.key, a.columns[0].name) for a in inspect(model).column_attrs)


def detached(model: type[M], **values: Any) -> M:
    """A detached instance holding ``values`` (by attribute name), made as the ORM makes loaded
    ones: the values go straight into its ``__dict__`` (through ``__init__`` every attribute
    would fire change events, which cost as much as a query)."""
    instance = cast(M, inspect(model).class_manager.new_instance())
    instance.__dict__.update(values)
    return instance


def from_row(model: type[M], row: Row[Any]) -> M:
    return from_columns(model, dict(row._mapping))


@functools.cache
def insert_into(model: type[Base]) -> Insert:
    """The INSERT of ``model``'s table, built once (the values are given at execution)."""
    return insert(cast(Table, model.__table__))


def column_values(instance: Base) -> dict[str, Any]:
    """The instance's values by column name, for a Core INSERT; unset attributes are left out,
    so that the columns' defaults apply."""
    values = {column: getattr(instance, attribute) for attribute, column in _fields(type(instance))}
    return {column: value for column, value in values.items() if value is not None}


@functools.cache
def _by_column(model: type[Base], column: str) -> Select[Any]:
    table = model.__table__
    return select(table).where(table.c[column] == bindparam("value"))


@functools.cache
def _prepared_by_column(model: type[Base], column: str) -> Prepared:
    return Prepared(_by_column(model, column))


def from_columns(model: type[M], values: dict[str, Any]) -> M:
    """A detached instance from values keyed by column name."""
    return detached(model, **{attribute: values[column] for attribute, column in _fields(model)})


def get_by(catalog: Catalog, model: type[M], column: str, value: Any) -> M | None:
    """The one row of ``model`` whose ``column`` (unique) equals ``value``, or None."""
    with catalog.driver_connection() as raw:
        if raw is not None:  # inline on SQLite: the compiled statement on the driver's cursor
            found = _prepared_by_column(model, column).rows(
                raw, catalog.engine.dialect, {"value": value}
            )
            return from_columns(model, found[0]) if found else None
    with catalog.engine.connect() as connection:
        return first_by(connection, model, column, value)


def first_by(connection: Connection, model: type[M], column: str, value: Any) -> M | None:
    row = connection.execute(_by_column(model, column), {"value": value}).first()
    return None if row is None else from_row(model, row)
