"""Skills with proficiency, a queue's required skill and its widening steps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE agent_skills (
        agent_id     bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        skill        text NOT NULL CHECK (skill ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$'),
        proficiency  integer NOT NULL CHECK (proficiency BETWEEN 1 AND 5),
        PRIMARY KEY (agent_id, skill)
    );
    -- The skill a queue's calls need; widen_steps: [[seconds waited, worst proficiency then allowed], ...]
    ALTER TABLE queues ADD COLUMN skill text;
    ALTER TABLE queues ADD COLUMN widen_steps jsonb NOT NULL DEFAULT '[]'::jsonb;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE queues DROP COLUMN widen_steps;
    ALTER TABLE queues DROP COLUMN skill;
    DROP TABLE agent_skills;
    """)
