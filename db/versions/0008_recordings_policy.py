"""Recording policy per tenant (record or not, a consent prompt, retention), the recordings index
columns supervisors search by, and the post-call satisfaction survey (the tenant's question prompt,
the caller's 1-5 answer on the call).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE tenants
        ADD COLUMN record_calls boolean NOT NULL DEFAULT true,
        ADD COLUMN recording_consent_prompt text NOT NULL DEFAULT ''
            CHECK (recording_consent_prompt ~ '^[A-Za-z0-9_/-]{0,80}$'),
        ADD COLUMN recording_retention_days integer NOT NULL DEFAULT 90 CHECK (recording_retention_days > 0),
        ADD COLUMN csat_prompt text NOT NULL DEFAULT '' CHECK (csat_prompt ~ '^[A-Za-z0-9_/-]{0,80}$');
    ALTER TABLE calls
        ADD COLUMN csat_score smallint CHECK (csat_score BETWEEN 1 AND 5),
        ADD COLUMN csat_at timestamptz;
    ALTER TABLE recordings
        ADD COLUMN agent_code text,
        ADD COLUMN queue text,
        ADD COLUMN campaign text,
        ADD COLUMN caller_number text,
        ADD COLUMN disposition text;
    CREATE INDEX recordings_started ON recordings (started_at);
    CREATE INDEX recordings_agent_started ON recordings (agent_code, started_at);
    -- "calls from numbers containing 5550" is a substring search: a trigram index serves it.
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX recordings_caller ON recordings USING gin (caller_number gin_trgm_ops);
    CREATE INDEX recordings_tenant_started ON recordings (tenant_id, started_at);
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX recordings_tenant_started;
    DROP INDEX recordings_caller;
    DROP INDEX recordings_agent_started;
    DROP INDEX recordings_started;
    ALTER TABLE recordings DROP COLUMN disposition, DROP COLUMN caller_number, DROP COLUMN campaign,
        DROP COLUMN queue, DROP COLUMN agent_code;
    ALTER TABLE calls DROP COLUMN csat_at, DROP COLUMN csat_score;
    ALTER TABLE tenants DROP COLUMN csat_prompt, DROP COLUMN recording_retention_days,
        DROP COLUMN recording_consent_prompt, DROP COLUMN record_calls;
    """)
