"""The ingest pipeline: identity, model checks, units, dedup, event-time order, apply.

decode → map identity (twin id or external id) → validate against the twin's model →
convert to the model's unit → drop duplicates → order by event time → apply (history, current
state, events). A point that fails any step goes to quarantine with the reason; nothing is
dropped silently.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from twinops.errors import InvalidInput, NotFound, Violation
from twinops.ingest.field_checks import FieldPlan, plan_field
from twinops.ingest.units import convert
from twinops.models.dtdl import validate_value
from twinops.models.dtdl.elements import Property, Telemetry
from twinops.models.service import ModelService, ResolvedModel
from twinops.obs import Metrics, tracing
from twinops.state.entities import AcceptedPoint, ApplyResult, PointFlag, Rejected
from twinops.state.store import StateStore
from twinops.timeutil import Clock, parse_time, system_clock
from twinops.twins.service import TwinService

POINT_KEYS = {"twin", "externalId", "name", "value", "time", "unit", "id"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    """What a batch did: counts, and the first reasons points were quarantined."""

    result: ApplyResult
    errors: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The response body of an ingest call."""
        return {**self.result.to_json(), "errors": list(self.errors)}


class IngestService:
    """Turns raw points from any source into history and current state."""

    def __init__(
        self,
        store: StateStore,
        twins: TwinService,
        models: ModelService,
        clock: Clock = system_clock,
        *,
        late_after: int = 0,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._twins = twins
        self._models = models
        self._clock = clock
        # µs an event may precede its arrival before it is flagged very late; 0: never flagged.
        self._late_after = late_after
        # Called with each batch's accepted points once they are stored (drift monitoring);
        # an observer's failure is logged and never fails the batch.
        self.observers: list[Callable[[str, Sequence[AcceptedPoint]], object]] = []

    def now(self) -> int:
        """The service clock's now (freshness is measured against it)."""
        return self._clock()

    def replay(self, tenant: str, ids: Sequence[int]) -> IngestReport:
        """Re-run quarantined points through the pipeline; the ones that pass leave quarantine."""
        wanted = set(ids)
        entries = [
            e
            for e in self._store.quarantined(tenant, limit=100_000)
            if e.id in wanted and "line" not in e.payload
        ]
        report = self.ingest(
            tenant, [e.payload for e in entries], source="replay", keep_rejected=False
        )
        failed = {int(err["index"]) for err in report.errors if "index" in err}
        passed = [e.id for i, e in enumerate(entries) if i not in failed]
        self._store.mark_replayed(tenant, passed, self._clock())
        return report

    @tracing.traced("ingest.batch")
    def ingest(
        self,
        tenant: str,
        raw_points: Sequence[Any],
        *,
        source: str,
        undecodable: Sequence[tuple[int, str, str]] = (),
        rejected: Sequence[Rejected] = (),
        keep_rejected: bool = True,
    ) -> IngestReport:
        """Validate, convert and apply a batch; rejected points are quarantined, never lost.

        ``rejected`` are points a source refused before the pipeline saw them (an MQTT
        message on the wrong topic, say); they are quarantined in the same transaction.
        """
        started = time.perf_counter()
        checker = _BatchChecker(tenant, self._twins, self._models, source)
        accepted: list[AcceptedPoint] = []
        rejected = list(rejected)
        errors: list[dict[str, Any]] = [
            {"field": r.field, "rule": r.rule, "message": r.reason} for r in rejected
        ]
        bad_lines = {index: (text, reason) for index, text, reason in undecodable}
        with tracing.span("ingest.validate"):
            checker.prefetch(raw_points)
            for index, raw in enumerate(raw_points):
                if index in bad_lines:
                    text, reason = bad_lines[index]
                    rejected.append(Rejected(source, {"line": text}, "body", "json", reason))
                    errors.append(
                        {"index": index, "field": "body", "rule": "json", "message": reason}
                    )
                    continue
                outcome = checker.check(raw)
                if isinstance(outcome, AcceptedPoint):
                    accepted.append(outcome)
                    continue
                rejected.append(outcome)
                errors.append(
                    {
                        "index": index,
                        "field": outcome.field,
                        "rule": outcome.rule,
                        "message": outcome.reason,
                    }
                )
            accepted.sort(key=_EVENT_ORDER)
        # A replay leaves its failures where they already are, instead of quarantining twice.
        kept = rejected if keep_rejected else []
        now = self._clock()
        with tracing.span("ingest.apply"):
            result = self._store.apply(tenant, self._flag_very_late(accepted, now), kept, now)
        for conflict in result.conflicts:
            errors.append(
                {"field": conflict.field, "rule": conflict.rule, "message": conflict.reason}
            )
        if self._metrics is not None:  # per batch: counts, duration, rules, newest per twin
            self._metrics.ingest_batch(
                tenant,
                source,
                time.perf_counter() - started,
                result,
                rules=[r.rule for r in (*kept, *result.conflicts)],
                newest={p.twin_id: p.event_time for p in accepted},  # sorted: last is newest
            )
        for observe in self.observers:
            try:
                observe(tenant, accepted)
            except Exception:
                log.exception("an ingest observer failed on a batch of %d points", len(accepted))
        return IngestReport(result, tuple(errors[:50]))

    def _flag_very_late(self, points: Sequence[AcceptedPoint], now: int) -> list[AcceptedPoint]:
        """Mark points older than the lateness bound: still stored, but flagged and counted."""
        if self._late_after <= 0:
            return list(points)
        return [
            p._replace(flags=p.flags | PointFlag.VERY_LATE)
            if now - p.event_time > self._late_after
            else p
            for p in points
        ]


def _named_twin(raw: Any) -> str | None:
    """The twin id a point that is not a dict names, if any."""
    if isinstance(raw, Mapping) and isinstance(raw.get("twin"), str):
        twin: str = raw["twin"]
        return twin
    return None


# Event time alone: the sort is stable, so points of one key keep their arrival order.
_EVENT_ORDER = attrgetter("event_time")
_new_tuple = tuple.__new__
_NO_FLAGS = PointFlag.NONE


class _BatchChecker:
    """Checks points one by one, caching twins and models for the batch."""

    def __init__(self, tenant: str, twins: TwinService, models: ModelService, source: str) -> None:
        self.tenant = tenant
        self.twins = twins
        self.models = models
        self.source = source
        self._model_of: dict[str, ResolvedModel | None] = {}
        self._external: dict[tuple[str, str], str | None] = {}
        self._fields: dict[tuple[str, str], Telemetry | Property | None] = {}
        # (model, field, unit) -> the fast checks of such points; None: always the full path.
        self._plans: dict[tuple[str, str, str | None], FieldPlan | None] = {}
        # Valid time texts -> µs: a batch's streams share their instants, so texts repeat.
        self._times: dict[str, int] = {}

    def _field(self, model: ResolvedModel, name: str) -> Telemetry | Property | None:
        """The field a point names, remembered for the rest of the batch."""
        found = self._fields[model.dtmi, name] = model.field(name)
        return found

    def check(self, raw: Any) -> AcceptedPoint | Rejected:
        """An accepted point in canonical units, or the reason it is rejected."""
        # The common point (a dict naming a prefetched twin, a planned field, a valid time and
        # value) is accepted from the batch's plans. Anything they are not sure of goes through
        # the full checks, so every rejection, and every accepted value, is the same either way.
        if type(raw) is not dict or not POINT_KEYS.issuperset(raw):
            return self._check_full(raw)
        twin_id = raw.get("twin")
        name = raw.get("name")
        unit = raw.get("unit")
        if type(twin_id) is not str or type(name) is not str or not twin_id or not name:
            return self._check_full(raw)
        model = self._model_of.get(twin_id)
        if model is None or not (unit is None or type(unit) is str):
            return self._check_full(raw)
        try:
            plan = self._plans[model.dtmi, name, unit]
        except KeyError:
            plan = self._plan(model, name, unit)
        if plan is None:
            return self._check_full(raw)
        stamp = raw.get("time")
        event_time = self._times.get(stamp) if type(stamp) is str else None
        if event_time is None:
            try:
                event_time = parse_time(stamp, "time")
            except InvalidInput:
                return self._check_full(raw)
            if type(stamp) is str:
                self._times[stamp] = event_time
        value: Any = raw.get("value")
        if plan.converts:
            kind = type(value)
            if kind is not float and kind is not int:
                return self._check_full(raw)
            # As the full path: float() first (an int too large raises the same), then the map.
            value = float(value)
            affine = plan.affine
            if affine is not None:
                value = value * affine.scale + affine.offset
            if not math.isfinite(value):
                return self._check_full(raw)
        if not plan.accepts(value):
            return self._check_full(raw)
        message_id = raw.get("id")
        if message_id is not None and (
            type(message_id) is not str or not 0 < len(message_id) <= 256
        ):
            return self._check_full(raw)
        # tuple.__new__: the named tuple's own __new__ is a Python function, a frame a point.
        return _new_tuple(
            AcceptedPoint, (twin_id, name, event_time, value, self.source, message_id, _NO_FLAGS)
        )

    def _plan(self, model: ResolvedModel, name: str, unit: str | None) -> FieldPlan | None:
        """The fast checks of a field's points in ``unit``, made once per batch."""
        key = (model.dtmi, name)
        content = self._fields[key] if key in self._fields else self._field(model, name)
        plan = None if content is None else plan_field(content, unit)
        self._plans[model.dtmi, name, unit] = plan
        return plan

    def _check_full(self, raw: Any) -> AcceptedPoint | Rejected:
        """Every check in order: the reference the fast path defers to whenever it is unsure."""
        if not isinstance(raw, Mapping):
            return self._reject(raw, "body", "type", "a point is a JSON object")
        if not POINT_KEYS.issuperset(raw):
            unknown = sorted(set(raw) - POINT_KEYS)
            return self._reject(raw, unknown[0], "unknownKey", f"points have no '{unknown[0]}' key")
        twin_id = self._twin_id(raw)
        if isinstance(twin_id, Rejected):
            return twin_id
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            return self._reject(raw, "name", "required", "name the field", twin_id)
        model = self._model(twin_id)
        if model is None:
            return self._reject(
                raw, "twin", "twinExists", f"twin {twin_id} does not exist", twin_id
            )
        key = (model.dtmi, name)
        content = self._fields[key] if key in self._fields else self._field(model, name)
        if content is None:
            return self._reject(
                raw,
                "name",
                "fieldDefined",
                f"{model.dtmi} has no telemetry or property '{name}'",
                twin_id,
                name,
            )
        try:
            event_time = parse_time(raw.get("time"), "time")
        except InvalidInput as exc:
            return self._violation(raw, exc.violations[0], twin_id, name)
        value = raw.get("value")
        unit = raw.get("unit")
        if unit is not None and not isinstance(unit, str):
            return self._reject(
                raw, "unit", "type", "unit is a string such as 'psi'", twin_id, name
            )
        if unit is not None or content.unit is not None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    value = convert(float(value), unit, content.unit)
                except InvalidInput as exc:
                    return self._violation(raw, exc.violations[0], twin_id, name)
            elif unit is not None:
                return self._reject(
                    raw, "unit", "unitOnNumber", "only numbers carry units", twin_id, name
                )
        violations = validate_value(content.schema, value, "/value")
        if violations:
            return self._violation(raw, violations[0], twin_id, name)
        message_id = raw.get("id")
        if message_id is not None and (
            not isinstance(message_id, str) or not 0 < len(message_id) <= 256
        ):
            return self._reject(
                raw, "id", "type", "a message id is a string of 1-256 characters", twin_id, name
            )
        return AcceptedPoint(twin_id, name, event_time, value, self.source, message_id)

    def _twin_id(self, raw: Mapping[str, Any]) -> str | Rejected:
        twin = raw.get("twin")
        if isinstance(twin, str) and twin:
            return twin
        external = raw.get("externalId")
        if (
            isinstance(external, Mapping)
            and isinstance(external.get("system"), str)
            and isinstance(external.get("id"), str)
        ):
            key = (external["system"], external["id"])
            if key not in self._external:
                try:
                    self._external[key] = self.twins.resolve_external_id(self.tenant, *key)
                except NotFound:
                    self._external[key] = None
            mapped = self._external[key]
            if mapped is None:
                return self._reject(
                    raw, "externalId", "externalIdMapped", f"no twin is mapped to {key[0]}/{key[1]}"
                )
            return mapped
        return self._reject(
            raw, "twin", "required", "give 'twin' (an id) or 'externalId' {system, id}"
        )

    def prefetch(self, raw_points: Sequence[Any]) -> None:
        """Look up the models of every twin the batch names, in one read."""
        # Decoded points are dicts: a type test costs far less than isinstance(raw, Mapping).
        twins = [raw.get("twin") if type(raw) is dict else _named_twin(raw) for raw in raw_points]
        named = {twin for twin in twins if isinstance(twin, str)}
        if not named:
            return
        dtmis = self.twins.models_of(self.tenant, sorted(named))
        models: dict[str, ResolvedModel | None] = {}  # a fleet shares a few models
        for twin_id in named:
            dtmi = dtmis.get(twin_id)
            if dtmi is not None and dtmi not in models:
                models[dtmi] = self._resolve(dtmi)
            self._model_of[twin_id] = None if dtmi is None else models[dtmi]

    def _resolve(self, dtmi: str) -> ResolvedModel | None:
        try:
            return self.models.resolve(self.tenant, dtmi)
        except (NotFound, InvalidInput):
            return None

    def _model(self, twin_id: str) -> ResolvedModel | None:
        if twin_id not in self._model_of:
            try:
                twin = self.twins.get(self.tenant, twin_id)
                self._model_of[twin_id] = self.models.resolve(self.tenant, twin.model)
            except (NotFound, InvalidInput):
                self._model_of[twin_id] = None
        return self._model_of[twin_id]

    def _reject(
        self,
        raw: Any,
        field_name: str,
        rule: str,
        reason: str,
        twin_id: str | None = None,
        name: str | None = None,
    ) -> Rejected:
        payload = dict(raw) if isinstance(raw, Mapping) else {"value": raw}
        return Rejected(self.source, payload, field_name, rule, reason, twin_id, name)

    def _violation(
        self, raw: Any, violation: Violation, twin_id: str | None, name: str | None
    ) -> Rejected:
        return self._reject(raw, violation.field, violation.rule, violation.message, twin_id, name)
