"""The composition root: builds every service from settings, in one place."""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinops.config import SECRET_SETTINGS, Settings
from twinops.errors import InvalidInput, NotFound
from twinops.fidelity.drift_service import DriftService
from twinops.ingest.admission import AdmissionGate
from twinops.ingest.pipeline import IngestService
from twinops.ingest.units import default_converter
from twinops.jobs.artifacts import FileArtifactStore
from twinops.jobs.config import JobSettings
from twinops.jobs.kinds import PrepareContext, default_kinds
from twinops.jobs.service import JobService
from twinops.models.service import ModelService
from twinops.obs import Metrics, logs, tracing
from twinops.obs.metrics import QUEUE_STATUSES
from twinops.registry.outcomes import record_outcome
from twinops.registry.service import InspectedModel, JobFacts, RegistryService
from twinops.security.entities import Role
from twinops.security.service import SecurityService
from twinops.security.tokens import JwtConfig
from twinops.state.retention import FieldCatalog
from twinops.state.retention_service import RetentionService
from twinops.state.store import StateStore
from twinops.storage import Database, open_database
from twinops.storage.events import SqlEventStore
from twinops.storage.sql_drift import SqlDriftPolicyStore
from twinops.storage.sql_history import CompactionPolicy
from twinops.storage.sql_jobs import SqlJobStore
from twinops.storage.sql_models import SqlModelStore
from twinops.storage.sql_registry import SqlRegistryStore
from twinops.storage.sql_retention import SqlRetentionStore
from twinops.storage.sql_security import SqlSecurityStore
from twinops.storage.sql_state import SqlStateStore
from twinops.storage.sql_twins import SqlTwinStore
from twinops.timeutil import Clock, system_clock
from twinops.twins.service import TwinService
from twinops.twins.store import EventStore

if TYPE_CHECKING:
    from twinops.ingest.mqtt import MqttConsumer


@dataclass
class Platform:
    """The services of one twinops instance and the database they share."""

    settings: Settings
    db: Database
    models: ModelService
    twins: TwinService
    events: EventStore
    security: SecurityService
    state: StateStore
    ingest: IngestService
    retention: RetentionService
    jobs: JobService
    registry: RegistryService
    drift: DriftService
    gate: AdmissionGate = field(default_factory=lambda: AdmissionGate(64 * 1024 * 1024))
    mqtt: MqttConsumer | None = None
    metrics: Metrics = field(default_factory=lambda: Metrics(system_clock))  # its own registry

    @classmethod
    def open(cls, settings: Settings, clock: Clock = system_clock) -> Platform:
        """Open (and migrate) the database and wire the services."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(settings.resolved_database_url)
        if settings.sqlite_background_checkpoint:
            db.checkpoint_in_background()
        tracing.configure(tracing.endpoint_from(settings.otel_endpoint), settings.otel_service_name)
        metrics = Metrics(clock, queue_depth=lambda: queue_depth(db))
        models = ModelService(SqlModelStore(db), clock)
        twins = TwinService(SqlTwinStore(db), models, clock)
        security = SecurityService(
            SqlSecurityStore(db),
            jwt_config(settings),
            default_tenant=settings.default_tenant,
            clock=clock,
            cache_seconds=settings.auth_cache_seconds,
        )
        if settings.admin_key:
            security.seed_admin_key(settings.admin_key)
        segments = max(2, settings.history_compact_segments)
        compaction = CompactionPolicy(
            points=max(1, settings.history_compact_points),
            segments=segments,
            background=settings.history_compact_background,
            # Half the segments, up to 32 (160k points of 5,000-point batches): HTTP clients
            # or gateways a few dozen batches behind the others look up their late points
            # in cached segments, not in blocks.
            keep_segments=min(32, segments // 2),
        )
        state = SqlStateStore(db, compaction)
        late_after = int(settings.late_after_seconds * 1_000_000)
        ingest = IngestService(state, twins, models, clock, late_after=late_after, metrics=metrics)
        retention = RetentionService(SqlRetentionStore(db), model_fields(models), clock)
        gate = AdmissionGate(settings.ingest_max_inflight_bytes)
        events = SqlEventStore(db)
        jobs = job_service(settings, db, models, twins, state, clock, metrics)
        registry = registry_service(db, models, jobs, clock)
        drift = drift_service(db, registry, twins, models, events, jobs, metrics, clock)
        ingest.observers.append(drift.observe)
        return cls(
            settings,
            db,
            models,
            twins,
            events,
            security,
            state,
            ingest,
            retention,
            jobs,
            registry,
            drift,
            gate,
            metrics=metrics,
        )

    def start_mqtt(self) -> MqttConsumer:
        """Start consuming telemetry from the configured broker (``mqtt_url``)."""
        from twinops.ingest.mqtt import MqttConsumer

        if self.mqtt is None:
            self.mqtt = MqttConsumer(
                self.settings, self.ingest, self.security.authenticate, self.gate
            )
            self.mqtt.start()
        return self.mqtt

    def start_jobs(self) -> None:
        """Run queued jobs in this process (``jobs_executor``: a local process pool or Ray)."""
        from twinops.jobs.executors import make_executor

        if self.jobs.runner is None:
            self.jobs.start(make_executor(self.jobs.settings))

    def close(self) -> None:
        """Stop the sources and the job runner, then release the database connections."""
        self.jobs.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
            self.mqtt = None
        self.state.close()
        self.db.dispose()


def job_service(
    settings: Settings,
    db: Database,
    models: ModelService,
    twins: TwinService,
    state: StateStore,
    clock: Clock,
    metrics: Metrics | None = None,
) -> JobService:
    """The job service: SQL queue, artifacts under ``<data_dir>/artifacts``, built-in kinds."""
    job_settings = JobSettings.from_settings(settings)

    def context(tenant: str) -> PrepareContext:
        return PrepareContext(tenant, twins, state, models, job_settings.max_steps, clock)

    return JobService(
        SqlJobStore(db),
        FileArtifactStore(settings.data_dir / "artifacts", durable=not db.is_sqlite),
        default_kinds(test_kinds=job_settings.test_kinds),
        job_settings,
        context,
        clock,
        metrics=metrics,
    )


def registry_service(
    db: Database, models: ModelService, jobs: JobService, clock: Clock
) -> RegistryService:
    """The model registry, hooked into the job service: specs may run ``registry:name@v``
    and finished calibrations, validations and regressions land in the registry."""

    def job_facts(tenant: str, job_id: str) -> JobFacts:
        job = jobs.get(tenant, job_id).job
        succeeded = str(job.status) == "succeeded"
        return JobFacts(
            job_id=job.job_id,
            kind=job.kind,
            status=str(job.status),
            spec=jobs.spec(tenant, job_id),
            # Most finished jobs concern no registry version: their summary is never read.
            load_summary=(lambda: jobs.summary(tenant, job_id)) if succeeded else None,
            submitted_by=job.submitted_by,
            extra={"reproduces": job.reproduces} if job.reproduces else {},
        )

    def dtmi_exists(tenant: str, dtmi: str) -> bool:
        try:
            models.resolve(tenant, dtmi)
        except (NotFound, InvalidInput):
            return False
        return True

    def inspect(reference: str) -> InspectedModel:
        from twinops.sim.inspect import inspect_model

        return inspect_model(reference)

    registry = RegistryService(SqlRegistryStore(db), inspect, job_facts, dtmi_exists, clock)
    jobs.spec_resolvers.append(registry.resolve_spec)
    jobs.success_listeners.append(
        lambda job: record_outcome(registry, job_facts, job.tenant, job.job_id)
    )
    return registry


def configure_logging(settings: Settings) -> None:
    """Process-wide logging as configured (``log_format``, ``log_level``), secrets masked."""
    if settings.log_format not in logs.FORMATS:
        raise InvalidInput.single(
            "log_format", "oneOf", f"one of {', '.join(logs.FORMATS)}", settings.log_format
        )
    if settings.access_log not in logs.ACCESS_LOGS:
        raise InvalidInput.single(
            "access_log", "oneOf", f"one of {', '.join(logs.ACCESS_LOGS)}", settings.access_log
        )
    secrets = [str(getattr(settings, name)) for name in sorted(SECRET_SETTINGS)]
    logs.configure(settings.log_format, settings.log_level, secrets=secrets)


def queue_depth(db: Database) -> dict[str, int]:
    """Jobs queued and running, all tenants: one grouped count on the queue index (scrapes)."""
    from sqlalchemy import func, select

    from twinops.storage.schema import jobs

    stmt = (
        select(jobs.c.status, func.count())
        .where(jobs.c.status.in_(QUEUE_STATUSES))
        .group_by(jobs.c.status)
    )
    with db.read() as conn:
        return {str(status): int(n) for status, n in conn.execute(stmt)}


def drift_service(
    db: Database,
    registry: RegistryService,
    twins: TwinService,
    models: ModelService,
    events: SqlEventStore,
    jobs: JobService,
    metrics: Metrics,
    clock: Clock,
) -> DriftService:
    """Drift monitoring of production models on ingest; alerts count in the metrics and may
    submit recalibration jobs (as the tenant's drift policy, with the modeler role)."""

    def submit(tenant: str, spec: Mapping[str, Any]) -> str:
        return jobs.submit(tenant, dict(spec), actor="drift-policy", role=Role.MODELER).job.job_id

    return DriftService(
        SqlDriftPolicyStore(db),
        registry,
        twins,
        models,
        events,
        submit,
        on_alert=lambda alert: metrics.drift_alert(alert.detector),
        clock=clock,
    )


def model_fields(models: ModelService) -> FieldCatalog:
    """The field names of a tenant's model, for retention policies to be checked against."""

    def fields(tenant: str, dtmi: str) -> frozenset[str] | None:
        try:
            return models.resolve(tenant, dtmi).field_names()
        except (NotFound, InvalidInput):
            return None

    return fields


def jwt_config(settings: Settings) -> JwtConfig:
    """Token verification settings; the embedded mode keeps its HS256 secret in the data folder."""
    secret = settings.jwt_secret or _embedded_secret(settings.data_dir / "jwt-hs256.secret")
    return JwtConfig(
        hs256_secret=secret,
        issuer=settings.jwt_issuer or None,
        audience=settings.jwt_audience or None,
        jwks_file=Path(settings.jwt_jwks_file) if settings.jwt_jwks_file else None,
    )


def _embedded_secret(path: Path) -> str:
    """A random secret created once, readable by this user only."""
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, models, the app) out of the collector's sight.

    Those objects live as long as the process; without this every full collection walks all
    of them again, a pause of tens of milliseconds in the middle of requests. Ingest makes
    tens of thousands of objects a batch, so full collections come every few batches: walking
    the heap was a third of ingest's time. The unit registry (pint: hundreds of thousands of
    objects) is loaded here for that reason, instead of by the first point with a unit.
    """
    default_converter()
    gc.collect()
    gc.freeze()
