"""The catalog: the system of record for API keys, uploads, jobs, assets, versions, files and
webhook deliveries (SQLAlchemy, migrated by Alembic; SQLite by default, PostgreSQL by URL)."""

from meshforge.catalog.db import Catalog, upgrade_database

__all__ = ["Catalog", "upgrade_database"]
