"""Alembic migrations, run programmatically at start-up (``upgrade_to_head``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from twinops.storage.database import Database

_HERE = Path(__file__).parent


def alembic_config(db: Database) -> Config:
    """An Alembic configuration bound to ``db``'s engine, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = db.engine
    return config


def upgrade_to_head(db: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    command.upgrade(alembic_config(db), "head")
