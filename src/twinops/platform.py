"""The composition root: builds every service from settings, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from twinops.config import Settings
from twinops.models.service import ModelService
from twinops.storage import Database, open_database
from twinops.storage.events import SqlEventStore
from twinops.storage.sql_models import SqlModelStore
from twinops.storage.sql_twins import SqlTwinStore
from twinops.timeutil import Clock, system_clock
from twinops.twins.service import TwinService
from twinops.twins.store import EventStore


@dataclass
class Platform:
    """The services of one twinops instance and the database they share."""

    settings: Settings
    db: Database
    models: ModelService
    twins: TwinService
    events: EventStore

    @classmethod
    def open(cls, settings: Settings, clock: Clock = system_clock) -> Platform:
        """Open (and migrate) the database and wire the services."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(settings.resolved_database_url)
        models = ModelService(SqlModelStore(db), clock)
        twins = TwinService(SqlTwinStore(db), models, clock)
        return cls(settings, db, models, twins, SqlEventStore(db))

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()
