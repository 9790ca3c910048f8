"""Alembic migrations, run programmatically at start-up (``upgrade_to_head``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from twinops.storage.database import Database

_HERE = Path(__file__).parent


def alembic_config(db: Database) -> Config:
    """An Alembic configuration bound to ``db``'s engine, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = db.engine
    return config


# Any fixed number: every twinops process agrees on it, so migrations never run twice at once.
_MIGRATION_LOCK = 7_361_124_042


def upgrade_to_head(db: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    if db.is_sqlite:
        command.upgrade(alembic_config(db), "head")
        return
    with db.engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(db), "head")
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
