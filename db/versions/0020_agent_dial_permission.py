"""Agents' outside calls: what each agent may dial from the phone (none, national numbers, or
international ones too).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""ALTER TABLE agents ADD COLUMN dial_permission text NOT NULL DEFAULT 'national'
                  CHECK (dial_permission IN ('none', 'national', 'international'))""")


def downgrade() -> None:
    op.execute("ALTER TABLE agents DROP COLUMN dial_permission")
