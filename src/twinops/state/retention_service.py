"""The retention service: set a tenant's policies, enforce them now or on a schedule."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from twinops.security.entities import AuditEntry
from twinops.state.retention import (
    FieldCatalog,
    Lineage,
    RetentionPolicy,
    RetentionRun,
    most_specific,
    parse_policies,
)
from twinops.state.retention_store import HistoryCut, RetentionStore
from twinops.timeutil import Clock, system_clock

log = logging.getLogger("twinops.retention")

SYSTEM_ACTOR = "system:retention"
TARGET = "retention"


class RetentionService:
    """Policies per tenant and their enforcement; every change and run is audited."""

    def __init__(
        self,
        store: RetentionStore,
        fields_of: FieldCatalog,
        clock: Clock = system_clock,
        *,
        chunk_rows: int = 5000,
        page_size: int = 1000,
    ) -> None:
        self._store = store
        self._fields_of = fields_of
        self._clock = clock
        self._chunk_rows = chunk_rows
        self._page_size = page_size

    def policies(self, tenant: str) -> list[RetentionPolicy]:
        """The tenant's policies in the order they were set."""
        return self._store.policies(tenant)

    def replace(self, tenant: str, body: Any, *, actor: str) -> list[RetentionPolicy]:
        """Validate a policy list (JSON body) and make it the tenant's whole list."""
        policies = parse_policies(tenant, body, self._fields_of)
        now = self._clock()
        details = {"policies": [p.to_json() for p in policies]}
        entry = AuditEntry(tenant, actor, "RetentionPoliciesSet", TARGET, now, details)
        self._store.replace_policies(tenant, policies, now, entry)
        return policies

    def apply(self, tenant: str, *, actor: str) -> RetentionRun:
        """Delete the history the tenant's policies no longer keep; audit what went."""
        policies = self._store.policies(tenant)
        now = self._clock()
        deleted: Counter[str] = Counter()
        try:
            if policies:
                self._enforce(tenant, policies, now, deleted)
        except Exception as exc:
            # Earlier chunks are committed: the record must say what did go before the failure.
            partial = RetentionRun(tenant, now, len(policies), dict(deleted))
            self._audit(tenant, actor, partial, error=type(exc).__name__)
            raise
        run = RetentionRun(tenant, now, len(policies), dict(deleted))
        self._audit(tenant, actor, run)
        return run

    def apply_all(self, *, actor: str = SYSTEM_ACTOR) -> list[RetentionRun]:
        """Enforce every tenant that has policies; a failing tenant does not stop the others."""
        runs: list[RetentionRun] = []
        for tenant in self._store.policy_tenants():
            try:
                runs.append(self.apply(tenant, actor=actor))
            except Exception:
                log.exception("retention enforcement failed for tenant %s", tenant)
        return runs

    def _enforce(
        self, tenant: str, policies: Sequence[RetentionPolicy], now: int, deleted: Counter[str]
    ) -> None:
        lineages: dict[str, Lineage] = {}
        decided: dict[tuple[str | None, str], RetentionPolicy | None] = {}
        after: tuple[str, str] | None = None
        while True:
            page = self._store.history_fields(tenant, after=after, limit=self._page_size)
            cuts: list[HistoryCut] = []
            for found in page:
                key = (found.model, found.name)
                if key not in decided:
                    lineage = self._lineage(tenant, found.model, lineages)
                    decided[key] = most_specific(policies, found.name, lineage)
                policy = decided[key]
                if policy is not None:
                    cuts.append(HistoryCut(found.twin_id, found.name, now - policy.keep_us))
            counts = self._store.delete_history(tenant, cuts, chunk_rows=self._chunk_rows)
            deleted.update(counts)
            if len(page) < self._page_size:
                return
            after = (page[-1].twin_id, page[-1].name)

    def _lineage(self, tenant: str, model: str | None, cache: dict[str, Lineage]) -> Lineage:
        if model is None:
            return Lineage(None)
        if model not in cache:
            closure = self._store.ancestors(tenant, [model]).get(model, frozenset({model}))
            ancestors = self._store.ancestors(tenant, sorted(closure | {model}))
            ancestors.setdefault(model, closure | {model})
            cache[model] = Lineage(model, ancestors)
        return cache[model]

    def _audit(self, tenant: str, actor: str, run: RetentionRun, **extra: Any) -> None:
        details = {**run.to_json(), **extra}
        self._store.append_audit(
            AuditEntry(tenant, actor, "RetentionApplied", TARGET, run.ran_at, details)
        )


class RetentionScheduler:
    """Enforces every tenant's policies every ``interval_seconds`` on a daemon thread."""

    def __init__(
        self,
        service: RetentionService,
        interval_seconds: float,
        *,
        first_delay_seconds: float = 60.0,
    ) -> None:
        self._service = service
        self._interval = interval_seconds
        # The first run waits a little, so start-up is not slowed, but not a whole interval:
        # a server restarted more often than that would otherwise never enforce.
        self._first_delay = min(first_delay_seconds, interval_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start the thread; False (and nothing started) when the interval is 0 (off)."""
        if self._interval <= 0 or self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._loop, name="twinops-retention", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for a run in progress to finish its chunk."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        delay = self._first_delay
        while not self._stop.wait(delay):
            try:
                runs = self._service.apply_all()
                log.info("retention: %d tenant(s), %d row(s) deleted", len(runs), _total(runs))
            except Exception:
                log.exception("retention enforcement failed")
            delay = self._interval


def _total(runs: Sequence[RetentionRun]) -> int:
    return sum(run.total for run in runs)
