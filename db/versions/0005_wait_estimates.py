"""The wait each caller was told on joining a queue, kept beside the wait they had.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE calls ADD COLUMN estimated_wait_s numeric(10,3);
    ALTER TABLE calls ADD COLUMN queue_position integer;
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE calls DROP COLUMN queue_position, DROP COLUMN estimated_wait_s")
