"""Agents: when their wrap-up ends (the state machine is driven by AMI queue events).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE agents ADD COLUMN wrap_up_until timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE agents DROP COLUMN wrap_up_until")
