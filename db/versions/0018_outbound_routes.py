"""Outbound routes per tenant: ordered E.164 prefixes -> trunks in failover order, the number rewritten
for the carrier (leading characters stripped, digits prepended), the caller ID to present. A change
NOTIFYs `callcenter_config` (every node re-reads them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE outbound_routes (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
        position    integer NOT NULL DEFAULT 0,
        prefixes    text[] NOT NULL DEFAULT '{+}',
        trunks      text[] NOT NULL CHECK (cardinality(trunks) > 0),
        strip       integer NOT NULL DEFAULT 0 CHECK (strip BETWEEN 0 AND 8),
        prepend     text NOT NULL DEFAULT '',
        caller_id   text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, name)
    );
    CREATE TRIGGER outbound_routes_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON outbound_routes FOR EACH STATEMENT EXECUTE FUNCTION callcenter_config_changed();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE outbound_routes;")
