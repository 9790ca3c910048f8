"""The relational schema shared by both dialects. Every row carries its tenant.

Times are integer microseconds since the epoch (UTC). JSON columns are ``JSON`` on SQLite
(text queried with ``json_extract``) and ``JSONB`` on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from twinops.twins.entities import EventType

metadata = MetaData()

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
# A value column that is empty for numbers: Python None is SQL NULL, not the JSON text 'null'.
OptionalJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
TENANT = 64
ID = 128
DTMI = 2048
TELEMETRY_EVENT_TYPE = str(EventType.TELEMETRY_APPLIED)
# Telemetry events are indexed by ``seq >> EVENT_BUCKET_BITS`` before their subject.
EVENT_BUCKET_BITS = 14

models = Table(
    "models",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("dtmi", String(DTMI), primary_key=True, comment="full DTMI with version"),
    Column("base_dtmi", String(DTMI), nullable=False, comment="DTMI without the version"),
    Column("version", Integer, nullable=False),
    Column("document", JsonDocument, nullable=False, comment="the interface as uploaded"),
    Column("content_hash", String(64), nullable=False),
    Column("uploaded_at", BigInteger, nullable=False),
    Column("decommissioned", Boolean, nullable=False, default=False),
    Index("ix_models_base", "tenant", "base_dtmi", "version"),
)

# The transitive `extends` closure, self included, so IS_OF_MODEL is one indexed lookup.
model_ancestors = Table(
    "model_ancestors",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("dtmi", String(DTMI), primary_key=True),
    Column("ancestor", String(DTMI), primary_key=True),
    Index("ix_model_ancestors_ancestor", "tenant", "ancestor"),
)

twins = Table(
    "twins",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("twin_id", String(ID), primary_key=True),
    Column("model", String(DTMI), nullable=False),
    Column("etag", String(64), nullable=False),
    Column("contents", JsonDocument, nullable=False, comment="property and component values"),
    Column("metadata", JsonDocument, nullable=False, comment="per-property last update times"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_twins_model", "tenant", "model"),
)

relationships = Table(
    "relationships",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("source_id", String(ID), primary_key=True),
    Column("relationship_id", String(ID), primary_key=True),
    Column("name", String(512), nullable=False),
    Column("target_id", String(ID), nullable=False),
    Column("properties", JsonDocument, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_relationships_source_name", "tenant", "source_id", "name"),
    Index("ix_relationships_target", "tenant", "target_id"),
)

external_ids = Table(
    "external_ids",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("source_system", String(256), primary_key=True),
    Column("source_id", String(512), primary_key=True),
    Column("twin_id", String(ID), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_external_ids_twin", "tenant", "twin_id"),
)

events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(TENANT), nullable=False),
    Column("type", String(64), nullable=False, comment="past tense: TwinCreated, ..."),
    Column("subject", String(DTMI), nullable=False, comment="twin id or model DTMI"),
    Column("occurred_at", BigInteger, nullable=False),
    Column("data", JsonDocument, nullable=False),
    Index("ix_events_tenant_seq", "tenant", "seq"),
    # Every event but telemetry by subject; telemetry events (one per twin per ingest batch)
    # by seq bucket first, so a batch's inserts share leaf pages (migration 0012).
    Index(
        "ix_events_subject",
        "tenant",
        "subject",
        "seq",
        sqlite_where=text(f"type <> '{TELEMETRY_EVENT_TYPE}'"),
        postgresql_where=text(f"type <> '{TELEMETRY_EVENT_TYPE}'"),
    ),
    Index(
        "ix_events_telemetry_subject",
        "tenant",
        text(f"(seq >> {EVENT_BUCKET_BITS})"),
        "subject",
        "seq",
        sqlite_where=text(f"type = '{TELEMETRY_EVENT_TYPE}'"),
        postgresql_where=text(f"type = '{TELEMETRY_EVENT_TYPE}'"),
    ),
)

tenants = Table(
    "tenants",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("name", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(256), nullable=False, comment="argon2id; never the key"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_api_keys_tenant", "tenant", "key_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(128), nullable=False),
    Column("target", String(DTMI), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("details", JsonDocument, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The newest record of each tenant's chain: appends lock it, and truncation shows against it.
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# -- telemetry and state ---------------------------------------------------------------------

# History is log-structured (storage/sql_history.py): every applied batch is one segment row
# (all its points, columnar), and compaction rewrites segments into per-field blocks, each
# within one UTC day. A point is identified by (twin, field, event time): a second point for
# the same key is a duplicate (same value) or a conflict (another value), never an overwrite.
telemetry_segments = Table(
    "telemetry_segments",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(TENANT), nullable=False),
    Column("first_time", BigInteger, nullable=False, comment="earliest event time"),
    Column("last_time", BigInteger, nullable=False, comment="latest event time"),
    Column("points", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False, comment="history_codec columns"),
    Index("ix_telemetry_segments_tenant", "tenant", "id"),
    # Ids are never reused, so a process may cache a decoded segment by id.
    sqlite_autoincrement=True,
)

telemetry_blocks = Table(
    "telemetry_blocks",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(TENANT), nullable=False),
    Column("twin_id", String(ID), nullable=False),
    Column("name", String(512), nullable=False),
    Column("day", Integer, nullable=False, comment="event time // 1 day, UTC"),
    Column("level", Integer, nullable=False, comment="merges behind this block"),
    Column("first_time", BigInteger, nullable=False),
    Column("last_time", BigInteger, nullable=False),
    Column("points", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False, comment="history_codec columns"),
    Index("ix_telemetry_blocks_field", "tenant", "twin_id", "name", "day", "first_time"),
    # A field-day's blocks by end time, covering the listing of late points' lookups: those
    # ending after a late point are few (the newest), where the field index walked every
    # block of the day that starts before it (0014).
    Index(
        "ix_telemetry_blocks_field_end",
        "tenant",
        "twin_id",
        "name",
        "day",
        "last_time",
        "first_time",
        "points",
    ),
    # Covering for the merge step's "fields of a day and level with enough blocks" (0013).
    Index("ix_telemetry_blocks_day", "tenant", "day", "level", "twin_id", "name"),
    # The newest block end of a tenant: late live points newer than it skip block lookups.
    Index("ix_telemetry_blocks_last", "tenant", "last_time"),
)

# Bumped by every retention delete of a tenant's blocks: a process caching decoded blocks by
# row id drops the tenant's when it changes (SQLite gives a deleted largest rowid again).
history_trims = Table(
    "history_trims",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# A tenant's compaction: blocks with ids up to ``published`` are history; those above it are
# staged by the compaction holding the lease (or left by one that died, and removed by the
# next). Staging in small transactions and publishing in one keeps the write lock short.
history_compactions = Table(
    "history_compactions",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("published", BigInteger, nullable=False, comment="the newest visible block id"),
    Column("holder", String(128), nullable=True, comment="the compactor holding the lease"),
    Column("lease_until", BigInteger, nullable=True, comment="epoch µs the lease ends"),
)

# The latest *event* per field: only a newer event time replaces it.
current_state = Table(
    "current_state",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("twin_id", String(ID), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("event_time", BigInteger, nullable=False),
    Column("value_num", Float, nullable=True),
    Column("value_json", OptionalJson, nullable=True),
    Column("ingest_time", BigInteger, nullable=False),
    Column("source", String(256), nullable=False),
)

# Bumped by every write to a tenant's current state, so a process may cache what the state
# shows and trust the cache only while the version is the one its own last write left.
state_versions = Table(
    "state_versions",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

message_ids = Table(
    "message_ids",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("message_id", String(256), primary_key=True),
    Column("seen_at", BigInteger, nullable=False),
    Index("ix_message_ids_seen", "tenant", "seen_at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(TENANT), nullable=False),
    Column("source", String(256), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("twin_id", String(ID), nullable=True),
    Column("name", String(512), nullable=True),
    Column("field", String(256), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("replayed_at", BigInteger, nullable=True),
    Index("ix_quarantine_tenant", "tenant", "id"),
)

data_quality = Table(
    "data_quality",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("twin_id", String(ID), primary_key=True),
    Column("source", String(256), primary_key=True),
    Column("accepted", BigInteger, nullable=False),
    Column("duplicates", BigInteger, nullable=False),
    Column("late", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("last_event_time", BigInteger, nullable=True),
    Column("last_ingest_time", BigInteger, nullable=True),
    Column("very_late", BigInteger, nullable=False, server_default="0"),
)

# How long history is kept, per tenant: (model or '*', field or '*'); the most specific wins.
retention_policies = Table(
    "retention_policies",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("model", String(DTMI), primary_key=True, comment="a versioned DTMI or '*'"),
    Column("field", String(512), primary_key=True, comment="a field name or '*'"),
    Column("keep_seconds", BigInteger, nullable=False),
    Column("position", Integer, nullable=False, comment="order in the list as it was set"),
    Column("updated_at", BigInteger, nullable=False),
)

# -- jobs ------------------------------------------------------------------------------------

# The persisted queue: the runner claims queued rows by (priority, age); status changes are
# compare-and-set on (status, attempts).
jobs = Table(
    "jobs",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("job_id", String(ID), primary_key=True),
    Column("kind", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("snapshot_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("submitted_by", String(256), nullable=False),
    Column("timeout_seconds", Float, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("progress", Float, nullable=False),
    Column("progress_message", String(512), nullable=False),
    Column("progress_at", BigInteger, nullable=True),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("not_before", BigInteger, nullable=True, comment="a retry waits until then"),
    Column("error", JsonDocument, nullable=True),
    Column("runner", String(ID), nullable=True, comment="the runner holding a running job"),
    Column("lease_until", BigInteger, nullable=True),
    Column("reproduces", String(ID), nullable=True, comment="the job this one re-runs"),
    Column("traceparent", String(64), nullable=True, comment="W3C trace context of the submit"),
    Index("ix_jobs_queue", "status", "priority", "created_at"),
    Index("ix_jobs_tenant_created", "tenant", "created_at", "job_id"),
    Index("ix_jobs_tenant_status", "tenant", "status", "created_at"),
    Index("ix_jobs_runner", "runner"),
)

# Which content (sha256, in the artifact store) a job holds under which name.
job_artifacts = Table(
    "job_artifacts",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("job_id", String(ID), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("role", String(16), nullable=False, comment="input | output | record"),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_job_artifacts_sha256", "sha256"),
)

job_logs = Table(
    "job_logs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(TENANT), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("source", String(16), nullable=False, comment="runner | worker"),
    Column("message", Text, nullable=False),
    Index("ix_job_logs_job", "tenant", "job_id", "id"),
)

# -- registry --------------------------------------------------------------------------------

# Registered simulation model versions: immutable rows, numbered per (tenant, name).
model_versions = Table(
    "model_versions",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("model_ref", String(300), nullable=False),
    Column("code_sha256", String(64), nullable=False),
    Column("parameters", JsonDocument, nullable=False),
    Column("intervals", JsonDocument, nullable=False),
    Column("twin_parameters", JsonDocument, nullable=False),
    Column("twin_model", String(DTMI), nullable=True),
    Column("default_scenario", JsonDocument, nullable=True),
    Column("thresholds", JsonDocument, nullable=False),
    Column("regressions", JsonDocument, nullable=False),
    Column("author", String(256), nullable=False),
    Column("notes", Text, nullable=False),
    Column("lineage", JsonDocument, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Append-only: what jobs showed about a version (validation scores, regression outcomes).
model_evidence = Table(
    "model_evidence",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(16), nullable=False, comment="validation | regression"),
    Column("label", String(128), nullable=False),
    Column("job_id", String(ID), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("metrics", JsonDocument, nullable=False),
    Column("reasons", JsonDocument, nullable=False),
    Column("attached_at", BigInteger, nullable=False),
    Column("attached_by", String(256), nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("moved_at", BigInteger, nullable=False),
    Column("moved_by", String(256), nullable=False),
)

# Every alias move, in order: the history rollback reads.
alias_moves = Table(
    "alias_moves",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("alias", String(64), nullable=False),
    Column("previous", Integer, nullable=True),
    Column("version", Integer, nullable=True, comment="null: the alias was removed"),
    Column("moved_at", BigInteger, nullable=False),
    Column("moved_by", String(256), nullable=False),
    Column("reason", Text, nullable=False),
)

# Drift policies per registered model: how its production version watches incoming telemetry.
drift_policies = Table(
    "drift_policies",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("name", String(64), primary_key=True, comment="a registered model name"),
    Column("policy", JsonDocument, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

__all__ = [
    "alias_moves",
    "api_keys",
    "audit_heads",
    "audit_log",
    "current_state",
    "data_quality",
    "drift_policies",
    "events",
    "external_ids",
    "history_compactions",
    "history_trims",
    "job_artifacts",
    "job_logs",
    "jobs",
    "message_ids",
    "metadata",
    "model_aliases",
    "model_ancestors",
    "model_evidence",
    "model_versions",
    "models",
    "quarantine",
    "relationships",
    "retention_policies",
    "state_versions",
    "telemetry_blocks",
    "telemetry_segments",
    "tenants",
    "twins",
]
