"""The model registry: versions, evidence, aliases and alias history.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create model_versions, model_evidence, model_aliases and alias_moves."""
    op.create_table(
        "model_versions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("model_ref", sa.String(300), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("intervals", _JSON, nullable=False),
        sa.Column("twin_parameters", _JSON, nullable=False),
        sa.Column("twin_model", sa.String(2048), nullable=True),
        sa.Column("default_scenario", _JSON, nullable=True),
        sa.Column("thresholds", _JSON, nullable=False),
        sa.Column("regressions", _JSON, nullable=False),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("lineage", _JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "model_evidence",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("attached_at", sa.BigInteger, nullable=False),
        sa.Column("attached_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "model_aliases",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("moved_at", sa.BigInteger, nullable=False),
        sa.Column("moved_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "alias_moves",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("previous", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("moved_at", sa.BigInteger, nullable=False),
        sa.Column("moved_by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the registry tables."""
    for table in ("alias_moves", "model_aliases", "model_evidence", "model_versions"):
        op.drop_table(table)
