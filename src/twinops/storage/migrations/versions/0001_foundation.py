"""Foundation: models, model ancestry, twins, relationships, external ids, events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create the foundation tables."""
    op.create_table(
        "models",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("dtmi", sa.String(2048), primary_key=True),
        sa.Column("base_dtmi", sa.String(2048), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.BigInteger, nullable=False),
        sa.Column("decommissioned", sa.Boolean, nullable=False),
    )
    op.create_index("ix_models_base", "models", ["tenant", "base_dtmi", "version"])
    op.create_table(
        "model_ancestors",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("dtmi", sa.String(2048), primary_key=True),
        sa.Column("ancestor", sa.String(2048), primary_key=True),
    )
    op.create_index("ix_model_ancestors_ancestor", "model_ancestors", ["tenant", "ancestor"])
    op.create_table(
        "twins",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("twin_id", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(2048), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("contents", Json, nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_twins_model", "twins", ["tenant", "model"])
    op.create_table(
        "relationships",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(128), primary_key=True),
        sa.Column("relationship_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False),
        sa.Column("properties", Json, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_relationships_source_name", "relationships", ["tenant", "source_id", "name"]
    )
    op.create_index("ix_relationships_target", "relationships", ["tenant", "target_id"])
    op.create_table(
        "external_ids",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("source_system", sa.String(256), primary_key=True),
        sa.Column("source_id", sa.String(512), primary_key=True),
        sa.Column("twin_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_external_ids_twin", "external_ids", ["tenant", "twin_id"])
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(2048), nullable=False),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column("data", Json, nullable=False),
    )
    op.create_index("ix_events_tenant_seq", "events", ["tenant", "seq"])
    op.create_index("ix_events_subject", "events", ["tenant", "subject", "seq"])


def downgrade() -> None:
    """Drop the foundation tables."""
    for table in (
        "events",
        "external_ids",
        "relationships",
        "twins",
        "model_ancestors",
        "models",
    ):
        op.drop_table(table)
