"""Engines for both dialects, with SQLite done right: WAL, ``BEGIN IMMEDIATE``, one writer."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


class Database:
    """A database reached through SQLAlchemy Core; writes go through :meth:`write`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite allows one writer; serialising writers in-process avoids busy retries.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._file_lock = _writer_file_lock(engine) if self.is_sqlite else None
        self._checkpointer: _Checkpointer | None = None

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
        with self._write_lock, _held(self._file_lock), self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        if self._checkpointer is not None:
            self._checkpointer.written()

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

    def checkpoint_in_background(self, interval: float = 0.25) -> None:
        """Move SQLite's WAL checkpoints out of commits, onto a thread of this process.

        A commit that takes the WAL past its threshold (1,000 pages) copies it into the
        database file before returning: a tenth of ingest's time, and a stall in the middle of
        a request. Here a thread checkpoints (PASSIVE: never waiting on readers or writers)
        whenever there were writes, every ``interval`` seconds. Another process on the same
        file checkpoints on its own commits, or on its own thread.
        """
        if not self.is_sqlite or self._checkpointer is not None:
            return
        event.listen(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()  # pooled connections come back without autocheckpoints
        self._checkpointer = _Checkpointer(self.engine, interval)

    def release_connections(self) -> None:
        """Close the pooled connections; later calls open new ones (checkpointing goes on)."""
        self.engine.dispose()

    def dispose(self) -> None:
        """Close every pooled connection (and stop checkpointing in the background)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
            event.remove(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()


class WriterFileLock:
    """An exclusive ``flock`` on a file beside the database, shared by every process using it.

    SQLite lets a writer that finds the database locked poll for it, sleeping up to 100 ms a
    time: with two ``serve`` workers, each batch waited out most of the other's sleeps and
    ingest fell tenfold. Waiting on a ``flock`` instead, a writer is woken by the kernel the
    moment the other process commits. The descriptor is opened per process, since a forked
    child sharing its parent's would share its lock too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock (waiting for it in the kernel, without the GIL) for the block."""
        fd = self._descriptor()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close this process's descriptor (a later :meth:`held` opens a new one)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def _writer_file_lock(engine: Engine) -> WriterFileLock | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return WriterFileLock(Path(database + "-writer.lock"))


@contextmanager
def _held(lock: WriterFileLock | None) -> Iterator[None]:
    if lock is None:
        yield
    else:
        with lock.held():
            yield


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class _Checkpointer:
    """A thread running PASSIVE WAL checkpoints after writes."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="twinops-sqlite-checkpointer", daemon=True
        )
        self._thread.start()

    def written(self) -> None:
        """Note a committed write: the next round checkpoints."""
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            if not self._dirty.is_set():
                continue
            self._dirty.clear()
            self._checkpoint()
        if self._dirty.is_set():
            self._checkpoint()  # what the last writes left, before the connections close

    def _checkpoint(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next round tries again; a commit is never failed by this
            log.warning("a background WAL checkpoint failed", exc_info=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Checkpoint once more if there were writes, then end the thread."""
        self._stopping.set()
        self._thread.join(timeout)


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
