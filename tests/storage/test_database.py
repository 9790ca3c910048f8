"""The SQLite engine's write path: WAL checkpoints on a thread of their own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

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
