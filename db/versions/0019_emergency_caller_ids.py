"""Emergency caller IDs: the number a phone presents to the emergency services (its location's, set per
phone) and the tenant's default for phones that have none.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE phones ADD COLUMN emergency_cid text CHECK (emergency_cid ~ '^\\+[0-9]{4,15}$');
    ALTER TABLE tenants ADD COLUMN emergency_cid text CHECK (emergency_cid ~ '^\\+[0-9]{4,15}$');
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE phones DROP COLUMN emergency_cid; ALTER TABLE tenants DROP COLUMN emergency_cid;")
