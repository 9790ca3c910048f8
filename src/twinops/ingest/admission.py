"""Admission control for ingest: a bound on the work held in memory at once.

Every source asks before it reads a batch into memory. Under overload HTTP callers get a 503
with Retry-After instead of the server growing without bound; the MQTT consumer waits, which
stops it acknowledging and so makes the broker hold back (its receive maximum).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from twinops.errors import Overloaded


class AdmissionGate:
    """Admits batches while the bytes in flight stay under a limit."""

    def __init__(self, max_bytes: int, retry_after: float = 1.0) -> None:
        self.max_bytes = max_bytes
        self.retry_after = retry_after
        self._in_flight = 0
        self._rejected = 0
        self._freed = threading.Condition()

    @property
    def in_flight(self) -> int:
        """Bytes of batches admitted and not yet finished."""
        return self._in_flight

    @property
    def rejected(self) -> int:
        """Batches turned away since start (each answered 503, none dropped)."""
        return self._rejected

    def _fits(self, size: int) -> bool:
        # One batch is always admitted when nothing else is in flight, so a batch larger than
        # the limit (but within the body limit) is slow, never refused forever.
        return self._in_flight == 0 or self._in_flight + size <= self.max_bytes

    @contextmanager
    def admit(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes of capacity, or raise Overloaded at once when there is none."""
        with self._freed:
            if not self._fits(size):
                self._rejected += 1
                raise Overloaded(
                    "the ingest pipeline is at capacity; retry after the delay given",
                    retry_after=self.retry_after,
                )
            self._in_flight += size
        try:
            yield
        finally:
            self._release(size)

    @contextmanager
    def wait(self, size: int, timeout: float | None = None) -> Iterator[None]:
        """Hold ``size`` bytes of capacity, waiting for it (sources that can slow down)."""
        with self._freed:
            if not self._freed.wait_for(lambda: self._fits(size), timeout):
                raise Overloaded("the ingest pipeline stayed at capacity", self.retry_after)
            self._in_flight += size
        try:
            yield
        finally:
            self._release(size)

    def _release(self, size: int) -> None:
        with self._freed:
            self._in_flight -= size
            self._freed.notify_all()
