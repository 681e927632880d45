"""Transfers and persistent agent sessions: a queue's dialable extension (the number agents transfer
callers to), the transfers of each call, each agent's session mode (ring the phone, or a persistent
app_agent_pool session), the periodic wait announcement interval of a queue, and when a callback's
caller joined the queue (the place the callback keeps) and the number they had called.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE queues
        ADD COLUMN extension text CHECK (extension ~ '^[0-9]{2,8}$'),
        ADD COLUMN announce_every_s integer NOT NULL DEFAULT 60
            CHECK (announce_every_s = 0 OR announce_every_s >= 15);
    CREATE UNIQUE INDEX queues_tenant_extension ON queues (tenant_id, extension) WHERE extension IS NOT NULL;
    ALTER TABLE calls ADD COLUMN transfers jsonb NOT NULL DEFAULT '[]'::jsonb;
    ALTER TABLE agents ADD COLUMN session_mode text NOT NULL DEFAULT 'ring'
        CHECK (session_mode IN ('ring', 'persistent'));
    ALTER TABLE callbacks ADD COLUMN queue_joined_at timestamptz, ADD COLUMN did text NOT NULL DEFAULT '';
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE callbacks DROP COLUMN queue_joined_at, DROP COLUMN did;
    ALTER TABLE agents DROP COLUMN session_mode;
    ALTER TABLE calls DROP COLUMN transfers;
    DROP INDEX queues_tenant_extension;
    ALTER TABLE queues DROP COLUMN announce_every_s, DROP COLUMN extension;
    """)
