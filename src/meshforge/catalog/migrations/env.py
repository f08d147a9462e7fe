"""Alembic environment: runs on the connection ``upgrade_database`` passes in, or on
``sqlalchemy.url`` when Alembic is called from its own command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from meshforge.catalog.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
