"""Teams, and a queue's overflow rule: which team joins when the expected wait grows, and its log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE teams (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$')
    );
    CREATE TABLE team_members (
        team_id     bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        agent_id    bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        PRIMARY KEY (team_id, agent_id)
    );
    ALTER TABLE queues
        ADD COLUMN overflow_team text REFERENCES teams(name) ON UPDATE CASCADE ON DELETE SET NULL,
        ADD COLUMN overflow_join_wait_s integer CHECK (overflow_join_wait_s > 0),
        ADD COLUMN overflow_leave_wait_s integer CHECK (overflow_leave_wait_s >= 0),
        ADD COLUMN overflow_active boolean NOT NULL DEFAULT false;
    CREATE TABLE queue_overflow_log (
        id          bigserial PRIMARY KEY,
        queue       text NOT NULL,
        team        text NOT NULL,
        action      text NOT NULL CHECK (action IN ('join', 'leave')),
        expected_wait_s numeric(10,1),
        callers_waiting integer NOT NULL,
        at          timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE queue_overflow_log;
    ALTER TABLE queues DROP COLUMN overflow_active, DROP COLUMN overflow_leave_wait_s,
        DROP COLUMN overflow_join_wait_s, DROP COLUMN overflow_team;
    DROP TABLE team_members;
    DROP TABLE teams;
    """)
