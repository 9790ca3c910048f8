"""Storage: SQLAlchemy Core on two dialects (SQLite, PostgreSQL), with Alembic migrations."""

from twinops.storage.database import Database, open_database

__all__ = ["Database", "open_database"]
