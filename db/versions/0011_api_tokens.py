"""Supervisor API tokens: stored as SHA-256 digests only, each with a role and (unless a platform
admin's) one tenant it may see; and the addresses blocked after repeated failed SIP authentications.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE api_tokens (
        id              bigserial PRIMARY KEY,
        -- NULL: a platform admin's token, which sees every tenant.
        tenant_id       bigint REFERENCES tenants(id) ON DELETE CASCADE,
        role            text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
        agent_code      text,
        name            text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
        token_hash      text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
        created_at      timestamptz NOT NULL DEFAULT now(),
        last_used_at    timestamptz,
        revoked_at      timestamptz,
        CHECK (role = 'admin' OR tenant_id IS NOT NULL),
        CHECK ((role = 'agent') = (agent_code IS NOT NULL))
    );

    CREATE TABLE sip_blocks (
        address         inet PRIMARY KEY,
        failures        integer NOT NULL,
        blocked_at      timestamptz NOT NULL DEFAULT now(),
        blocked_until   timestamptz NOT NULL,
        last_account    text NOT NULL DEFAULT ''
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE sip_blocks; DROP TABLE api_tokens;")
