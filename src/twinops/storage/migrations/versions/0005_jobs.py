"""Jobs: the persisted queue, the artifacts each job holds, job logs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create the jobs, job_artifacts and job_logs tables."""
    op.create_table(
        "jobs",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("submitted_by", sa.String(256), nullable=False),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("progress_message", sa.String(512), nullable=False),
        sa.Column("progress_at", sa.BigInteger, nullable=True),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("not_before", sa.BigInteger, nullable=True),
        sa.Column("error", _JSON, nullable=True),
        sa.Column("runner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("reproduces", sa.String(128), nullable=True),
    )
    op.create_index("ix_jobs_queue", "jobs", ["status", "priority", "created_at"])
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant", "created_at", "job_id"])
    op.create_index("ix_jobs_tenant_status", "jobs", ["tenant", "status", "created_at"])
    op.create_index("ix_jobs_runner", "jobs", ["runner"])
    op.create_table(
        "job_artifacts",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_job_artifacts_sha256", "job_artifacts", ["sha256"])
    op.create_table(
        "job_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_job_logs_job", "job_logs", ["tenant", "job_id", "id"])


def downgrade() -> None:
    """Drop the job tables."""
    op.drop_table("job_logs")
    op.drop_table("job_artifacts")
    op.drop_table("jobs")
