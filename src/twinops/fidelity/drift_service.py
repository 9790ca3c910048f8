"""Drift monitoring while telemetry flows: each registered model with a drift policy has its
``production`` version predict its twins' fields a step ahead; alerts become events.

An ingest observer: :meth:`DriftService.observe` gets every stored batch. Twins are matched
to a policy by the DTDL model the production version binds to. Monitors are kept per
(tenant, registered model, version): moving ``production`` starts a fresh monitor (new
warm-up) for the new version. An alert is appended to the twin's event stream
(``DriftDetected``, with its evidence), counted in the metrics, and, when the policy says so,
starts a recalibration job whose result the registry makes the ``candidate``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from twinops.errors import InvalidInput, NotFound
from twinops.fidelity.drift import (
    BehaviorModelPredictor,
    DriftAlert,
    DriftMonitor,
    DriftPolicy,
    EwmaPredictor,
    PersistencePredictor,
    StepPredictor,
)
from twinops.fidelity.drift_store import DriftPolicyStore, StoredPolicy
from twinops.models.service import ModelService
from twinops.registry.entities import NAME_PATTERN, PRODUCTION, ModelVersion
from twinops.registry.service import RegistryService
from twinops.security.entities import AuditEntry
from twinops.sim.model import ModelSignature, VectorModel
from twinops.sim.references import resolve_model

# Imported with the service, not on the first ingested batch (whose latency would pay it).
from twinops.sim.snapshot import bound_parameters
from twinops.state.entities import AcceptedPoint
from twinops.timeutil import Clock, system_clock
from twinops.twins.entities import EventType, NewEvent
from twinops.twins.service import TwinService
from twinops.twins.store import EventStore

log = logging.getLogger(__name__)

PREDICTORS = ("model", "ewma", "persistence")
_POLICY_TTL = 5.0  # seconds a tenant's policies and production versions are cached

Submit = Callable[[str, Mapping[str, Any]], str]
"""Submit a job spec for a tenant as the drift policy; answer the job id."""


@dataclass(frozen=True)
class WatchedModel:
    """A policy in force: the production version it watches and how."""

    name: str
    version: ModelVersion
    policy: DriftPolicy
    predictor: str


@dataclass
class _TwinModels:
    """A tenant's twins' DTDL models as cached, and the inverse: each model's twins."""

    stamp: float
    model_of: dict[str, str]
    twins_of: dict[str, frozenset[str]] = field(default_factory=dict)

    def among(self, model: str | None, twin_ids: set[str]) -> set[str]:
        """The twins among ``twin_ids`` that run ``model`` (None: whose model is unknown)."""
        if model is None:
            return {t for t in twin_ids if t not in self.model_of}
        twins = self.twins_of.get(model)
        if twins is None:
            twins = frozenset(t for t, m in self.model_of.items() if m == model)
            self.twins_of[model] = twins
        return twin_ids & twins


def parse_policy(body: Any) -> tuple[DriftPolicy, str]:
    """A stored policy body: DriftPolicy JSON plus ``predictor`` (model, ewma, persistence)."""
    if not isinstance(body, Mapping):
        raise InvalidInput.single("body", "type", "a drift policy is a JSON object")
    predictor = body.get("predictor", "model")
    if predictor not in PREDICTORS:
        raise InvalidInput.single(
            "predictor", "oneOf", f"one of {', '.join(PREDICTORS)}", predictor
        )
    rest = {k: v for k, v in body.items() if k != "predictor"}
    recalibrate = rest.get("recalibrate")
    if recalibrate is not None and (
        not isinstance(recalibrate, Mapping) or recalibrate.get("kind") != "calibrate"
    ):
        raise InvalidInput.single(
            "recalibrate", "calibrationSpec", "a calibrate job spec template (kind: calibrate)"
        )
    try:
        return DriftPolicy.from_json(rest), str(predictor)
    except (TypeError, ValueError) as exc:
        raise InvalidInput.single("body", "driftPolicy", str(exc)[:300]) from None


class DriftService:
    """Drift policies per registered model, and the monitors that apply them to ingest."""

    def __init__(
        self,
        store: DriftPolicyStore,
        registry: RegistryService,
        twins: TwinService,
        models: ModelService,
        events: EventStore,
        submit: Submit,
        on_alert: Callable[[DriftAlert], None] = lambda alert: None,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._registry = registry
        self._twins = twins
        self._models = models
        self._events = events
        self._submit = submit
        self._on_alert = on_alert
        self._clock = clock
        self._lock = threading.Lock()
        self._watched: dict[str, tuple[float, list[WatchedModel]]] = {}
        self._twin_models: dict[str, _TwinModels] = {}
        self._monitors: dict[tuple[str, str, int], DriftMonitor] = {}
        # The stamp of the twin models a monitor's verdicts on twins rest on.
        self._verdicts_at: dict[tuple[str, str, int], float] = {}
        # The fields a model predicts (outputs bound to telemetry): its inputs are read, not
        # judged, since the model has nothing to say about them.
        self._predicted: dict[tuple[str, str], frozenset[str]] = {}
        self.alerts_seen = 0

    # -- policies --------------------------------------------------------------------------

    def policies(self, tenant: str) -> list[StoredPolicy]:
        """The tenant's drift policies."""
        return self._store.policies(tenant)

    def set_policy(self, tenant: str, name: str, body: Any, *, actor: str) -> StoredPolicy:
        """Validate and set a registered model's drift policy (audited)."""
        if not NAME_PATTERN.match(name):
            raise InvalidInput.single("name", "pattern", "a registered model name", name)
        self._registry.versions(tenant, name)  # 404 unless registered
        parse_policy(body)
        now = self._clock()
        audit = AuditEntry(tenant, actor, "DriftPolicySet", name, now, {"policy": dict(body)})
        self._store.put(tenant, name, body, now, actor, audit)
        self._forget(tenant)
        return StoredPolicy(name, dict(body), now, actor)

    def remove_policy(self, tenant: str, name: str, *, actor: str) -> None:
        """Stop watching a registered model (audited)."""
        audit = AuditEntry(tenant, actor, "DriftPolicyRemoved", name, self._clock())
        if not self._store.remove(tenant, name, audit):
            raise NotFound(f"registered model {name} has no drift policy")
        self._forget(tenant)

    def _forget(self, tenant: str) -> None:
        with self._lock:
            self._watched.pop(tenant, None)

    # -- monitoring ------------------------------------------------------------------------

    def status(self, tenant: str) -> list[dict[str, Any]]:
        """What is watched in the tenant: model, production version, streams, warm-up."""
        out = []
        for watched in self._watching(tenant):
            monitor = self._monitors.get((tenant, watched.name, watched.version.version))
            out.append(
                {
                    "model": watched.name,
                    "version": watched.version.version,
                    "twinModel": watched.version.twin_model,
                    "predictor": watched.predictor,
                    "streams": 0 if monitor is None else monitor.stream_count,
                    "detectors": [d.name for d in watched.policy.detectors],
                    "recalibrates": watched.policy.recalibrate is not None,
                }
            )
        return out

    def observe(self, tenant: str, points: Sequence[AcceptedPoint]) -> list[DriftAlert]:
        """Feed a stored batch to the monitors of the production models its twins run."""
        watching = self._watching(tenant)
        if not watching or not points:
            return []
        stamp = self._twin_models_now(tenant).stamp
        twins: list[str] | None = None
        alerts: list[DriftAlert] = []
        for watched in watching:
            key = (tenant, watched.name, watched.version.version)
            monitor = self._monitors.get(key)
            if monitor is None:
                twins = twins or [p.twin_id for p in points]
                twin_ids = set(twins)
                mine = self._models_of(tenant, twin_ids).among(watched.version.twin_model, twin_ids)
                if not mine:
                    continue
                monitor = self._new_monitor(tenant, watched, mine)
            elif self._verdicts_at.get(key) != stamp:
                # The twins' models were read anew: the monitor asks about its twins again.
                monitor.reconsider()
            self._verdicts_at[key] = stamp
            # The monitor leaves out the points of twins that do not run the model after one
            # lookup per point (of the point's twin), asking ``admit`` only about twins it has
            # not met (or not since the twins' models were read anew); it reads the others'
            # points as columns, one attribute per pass.
            outcome = monitor.update_points(
                points, admit=partial(self._admit, tenant, watched, monitor)
            )
            predicted = self._predicted.get((tenant, watched.name))
            alerts.extend(a for a in outcome.alerts if predicted is None or a.field in predicted)
        if alerts:
            self._raise_alerts(tenant, watching, alerts)
        return alerts

    def _admit(
        self, tenant: str, watched: WatchedModel, monitor: DriftMonitor, twins: list[str]
    ) -> tuple[set[str], set[str]]:
        """Which of ``twins`` run the watched version's DTDL model (new ones get their
        nameplates), and those whose model is not known (asked about again next batch)."""
        asked = set(twins)
        models = self._models_of(tenant, asked)
        mine = models.among(watched.version.twin_model, asked)
        if mine and watched.predictor == "model":
            self._add_twins(tenant, watched, monitor, mine)
        return mine, asked - models.model_of.keys()

    def _twin_models_now(self, tenant: str) -> _TwinModels:
        """The tenant's cached twin models, started anew once they are too old."""
        now = time.monotonic()
        with self._lock:
            cached = self._twin_models.get(tenant)
            if cached is None or now - cached.stamp >= _POLICY_TTL:
                cached = self._twin_models[tenant] = _TwinModels(now, {})
        return cached

    def _models_of(self, tenant: str, twin_ids: set[str]) -> _TwinModels:
        """Each twin's DTDL model, cached with the policies (a twin rarely changes model)."""
        cached = self._twin_models_now(tenant)
        missing = twin_ids - cached.model_of.keys()
        if missing:
            found = self._twins.models_of(tenant, sorted(missing))
            cached = _TwinModels(cached.stamp, {**cached.model_of, **found})
            with self._lock:
                self._twin_models[tenant] = cached
        return cached

    def _watching(self, tenant: str) -> list[WatchedModel]:
        now = time.monotonic()
        with self._lock:
            cached = self._watched.get(tenant)
            if cached is not None and now - cached[0] < _POLICY_TTL:
                return cached[1]
        watching: list[WatchedModel] = []
        for stored in self._store.policies(tenant):
            try:
                version = self._registry.version(tenant, stored.name, PRODUCTION)
                policy, predictor = parse_policy(stored.policy)
            except (NotFound, InvalidInput):
                continue  # no production version yet: nothing to predict with
            watching.append(WatchedModel(stored.name, version, policy, predictor))
        with self._lock:
            self._watched[tenant] = (now, watching)
        return watching

    def _new_monitor(self, tenant: str, watched: WatchedModel, twins: set[str]) -> DriftMonitor:
        key = (tenant, watched.name, watched.version.version)
        for old in [k for k in self._monitors if k[:2] == key[:2]]:
            del self._monitors[old]  # production moved: the old version's monitor retires
            self._verdicts_at.pop(old, None)
        self._predicted.pop((tenant, watched.name), None)
        predictor = self._predictor(tenant, watched, twins)
        # Room from the start for the streams of the twins at hand (a twin may report fields
        # the model does not read): no growing on the way; big state arrays start as zeros.
        fields = 2 * len(predictor.fields or ()) or 4
        monitor = DriftMonitor(watched.policy, predictor, capacity=max(256, len(twins) * fields))
        self._monitors[key] = monitor
        return monitor

    def _predictor(self, tenant: str, watched: WatchedModel, twins: set[str]) -> StepPredictor:
        if watched.predictor == "ewma":
            return EwmaPredictor(60.0)
        if watched.predictor == "persistence":
            return PersistencePredictor()
        model = resolve_model(watched.version.model_ref)
        if not isinstance(model, VectorModel):
            log.warning("%s is not vectorized: drift uses persistence", watched.version.key)
            return PersistencePredictor()
        twin_params = self._nameplates(tenant, watched, twins, model.signature)
        bound = {o.binding for o in model.signature.outputs if o.binding}
        self._predicted[(tenant, watched.name)] = frozenset(bound)
        return BehaviorModelPredictor(model, dict(watched.version.parameters), twin_params)

    def _add_twins(
        self,
        tenant: str,
        watched: WatchedModel,
        monitor: DriftMonitor,
        twins: set[str],
    ) -> None:
        predictor = monitor.predictor
        if not isinstance(predictor, BehaviorModelPredictor):
            return
        new = twins - predictor.twins_known()
        if new:
            predictor.add_twins(self._nameplates(tenant, watched, new, predictor.model.signature))

    def _nameplates(
        self, tenant: str, watched: WatchedModel, twin_ids: set[str], signature: ModelSignature
    ) -> dict[str, dict[str, float]]:
        """Each twin's bound parameters (ratedFlow, ...) under the version's own parameters."""
        found = self._twins.get_many(tenant, twin_ids)
        params: dict[str, dict[str, float]] = {}
        for twin_id in sorted(twin_ids):
            nameplate: dict[str, float] = {}
            if (twin := found.get(twin_id)) is not None:
                try:
                    resolved = self._models.resolve(tenant, twin.model)
                    nameplate = bound_parameters(signature, twin, resolved)
                except (NotFound, InvalidInput):
                    pass  # a twin whose model went away or that lacks a nameplate: defaults
            params[twin_id] = {**nameplate, **watched.version.parameters}
        return params

    def _raise_alerts(
        self, tenant: str, watching: Sequence[WatchedModel], alerts: Sequence[DriftAlert]
    ) -> None:
        watched_for: dict[str, WatchedModel] = {}
        models = self._models_of(tenant, {a.twin for a in alerts}).model_of
        for w in watching:
            if w.version.twin_model:
                watched_for[w.version.twin_model] = w
        events = []
        for alert in alerts:
            watched = watched_for.get(models.get(alert.twin, ""))
            data = {**alert.to_json()}
            if watched is not None:
                data["model"] = {"name": watched.name, "version": watched.version.version}
                request = watched.policy.recalibration_request(alert)
                if request is not None:
                    data["recalibration"] = self._recalibrate(tenant, watched, request)
            events.append(
                NewEvent(tenant, EventType.DRIFT_DETECTED, alert.twin, alert.time_us, data)
            )
            self._on_alert(alert)
        self._events.append(events)
        self.alerts_seen += len(alerts)

    def _recalibrate(
        self, tenant: str, watched: WatchedModel, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        spec = {
            **request,
            "model": f"registry:{watched.name}@{watched.version.version}",
        }
        spec.setdefault("register", {"name": watched.name})
        try:
            return {"job": self._submit(tenant, spec)}
        except Exception as exc:  # a refused spec is reported in the alert, not raised
            log.warning("drift recalibration of %s refused: %s", watched.version.key, exc)
            return {"error": str(exc)[:500]}
