"""The SQLite engine's write path: WAL checkpoints on a thread of their own, one writer."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from twinops.storage import open_database


def _fill(
    db_url: str, *, background: bool, rows: int = 400, release: bool = False
) -> tuple[int, int]:
    """Write ``rows`` 4 KiB rows, one transaction each; (main file size, WAL pages left)."""
    db = open_database(db_url)
    if background:
        db.checkpoint_in_background(interval=0.05)
    if release:  # as twinops serve --workers N does before starting its workers
        db.release_connections()
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        for i in range(rows):
            with db.write() as conn:
                conn.execute(
                    text("INSERT INTO blobs (id, data) VALUES (:id, :data)"),
                    {"id": i, "data": bytes(4096)},
                )
        deadline = time.monotonic() + 10
        path = Path(db_url.removeprefix("sqlite:///"))
        while background and path.stat().st_size < rows * 4096 and time.monotonic() < deadline:
            time.sleep(0.05)
        with db.read() as conn:
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        return path.stat().st_size, int(autocheckpoint)
    finally:
        db.dispose()


def test_background_checkpoints_move_the_wal_into_the_database_file(tmp_path: Path) -> None:
    size, autocheckpoint = _fill(f"sqlite:///{tmp_path / 'bg.db'}", background=True)
    assert autocheckpoint == 0  # commits no longer checkpoint...
    assert size >= 400 * 4096  # ...and the thread did: the rows reached the main file


def test_handing_back_pooled_connections_keeps_checkpointing_in_the_background(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'released.db'}"
    size, autocheckpoint = _fill(url, background=True, release=True)
    assert autocheckpoint == 0
    assert size >= 400 * 4096


def test_without_the_thread_commits_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    size, autocheckpoint = _fill(f"sqlite:///{tmp_path / 'inline.db'}", background=False)
    assert autocheckpoint == 1000
    assert size >= 200 * 4096  # the commit that passed 1,000 WAL pages copied them


def test_dispose_stops_the_checkpointer(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'stop.db'}")
    db.checkpoint_in_background(interval=0.05)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    assert any(t.name == "twinops-sqlite-checkpointer" for t in threading.enumerate())
    db.dispose()
    assert not any(t.name == "twinops-sqlite-checkpointer" for t in threading.enumerate())


def _impatient(dbapi_conn: Any, _record: Any) -> None:
    """SQLite's own wait for a locked database, off: only twinops's lock may serialise."""
    dbapi_conn.execute("PRAGMA busy_timeout=0")


def _write_rows(db_url: str, writer: int, rows: int, start: Any, errors: Any) -> None:
    """(process) ``rows`` write transactions, each reading then inserting, with no busy wait."""
    db = open_database(db_url, migrate=False)
    event.listen(db.engine, "connect", _impatient)
    db.release_connections()
    start.wait(10)
    try:
        for i in range(rows):
            with db.write() as conn:
                count = conn.exec_driver_sql("SELECT count(*) FROM log").scalar_one()
                conn.exec_driver_sql(
                    "INSERT INTO log (writer, i, seen) VALUES (?, ?, ?)", (writer, i, count)
                )
    except Exception as exc:  # reported to the test: a locked database is the failure
        errors.put(f"writer {writer}: {exc}")
    finally:
        db.dispose()


def test_writers_of_two_processes_take_turns_without_busy_retries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    db = open_database(url, migrate=False)
    with db.write() as conn:  # the parent holds its lock descriptor when the children fork
        conn.exec_driver_sql("CREATE TABLE log (writer INTEGER, i INTEGER, seen INTEGER)")
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_write_rows, args=(url, w, 150, start, errors)) for w in (1, 2)]
    for process in writers:
        process.start()
    start.set()
    with db.write() as conn:  # the parent writes meanwhile, through the same lock
        conn.exec_driver_sql("INSERT INTO log (writer, i, seen) VALUES (0, 0, -1)")
    for process in writers:
        process.join(60)
    try:
        assert errors.empty(), errors.get()
        with db.read() as conn:
            rows = conn.exec_driver_sql("SELECT writer, count(*) FROM log GROUP BY writer").all()
            seen = [r[0] for r in conn.exec_driver_sql("SELECT seen FROM log WHERE writer > 0")]
        assert dict(rows) == {0: 1, 1: 150, 2: 150}
        # Each transaction saw every earlier one: they ran one after the other.
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 300
        assert (tmp_path / "shared.db-writer.lock").exists()
    finally:
        db.dispose()
