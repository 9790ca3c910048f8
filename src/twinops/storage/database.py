"""Engines for both dialects, with SQLite done right: WAL, ``BEGIN IMMEDIATE``, one writer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


class Database:
    """A database reached through SQLAlchemy Core; writes go through :meth:`write`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite allows one writer; serialising writers in-process avoids busy retries.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded backend."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; committed on exit, rolled back on error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; each statement sees the last committed state (WAL)."""
        with self.engine.connect() as conn:
            yield conn
            conn.rollback()

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only connection whose statements all see one committed state."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN")  # a WAL read transaction: one snapshot
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
            try:
                yield conn
            finally:
                conn.rollback()

    def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics (after bulk loads change the tables' shape)."""
        with self.write() as conn:
            if self.is_sqlite:
                # A sampled ANALYZE: good enough for index choice, milliseconds on big tables.
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {table}")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        poolclass=NullPool if parsed.database in (None, "", ":memory:") else None,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open the database at ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
    elif url.startswith("postgresql"):
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    else:
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
    db = Database(engine)
    if migrate:
        from twinops.storage.migrations import upgrade_to_head

        upgrade_to_head(db)
    return db
