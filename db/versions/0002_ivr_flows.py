"""IVR flows per tenant, customers for lookups, callback requests, allowed trunks, IVR facts on calls.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE ivr_flows (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        definition  jsonb NOT NULL,
        source      text NOT NULL,
        version     integer NOT NULL DEFAULT 1,
        loaded_at   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, name)
    );

    ALTER TABLE dids DROP COLUMN menu;
    ALTER TABLE dids ADD COLUMN flow text;
    ALTER TABLE dids ADD CONSTRAINT dids_flow_fk FOREIGN KEY (tenant_id, flow)
        REFERENCES ivr_flows (tenant_id, name) ON UPDATE CASCADE;

    CREATE TABLE customers (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        account     text NOT NULL CHECK (account ~ '^[0-9A-Za-z-]{1,32}$'),
        name        text NOT NULL,
        phones      text[] NOT NULL DEFAULT '{}',
        language    text NOT NULL DEFAULT '',
        tier        text NOT NULL DEFAULT '',
        notes       jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, account)
    );
    CREATE INDEX customers_phones ON customers USING gin (phones);

    CREATE TABLE tenant_trunks (
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        trunk       text NOT NULL,
        PRIMARY KEY (tenant_id, trunk)
    );

    CREATE TABLE callbacks (
        id            bigserial PRIMARY KEY,
        tenant_id     bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        linkedid      text,
        number        text NOT NULL,
        queue         text NOT NULL,
        status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','dialing','done','failed')),
        attempts      integer NOT NULL DEFAULT 0,
        requested_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX callbacks_pending ON callbacks (queue, requested_at) WHERE status = 'pending';

    ALTER TABLE calls
        ADD COLUMN ivr_flow     text,
        ADD COLUMN ivr_outcome  text,
        ADD COLUMN language     text,
        ADD COLUMN customer_id  bigint REFERENCES customers(id) ON DELETE SET NULL,
        ADD COLUMN account      text,
        ADD COLUMN reason       text,
        ADD COLUMN skills       text[] NOT NULL DEFAULT '{}',
        ADD COLUMN priority     integer;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE calls DROP COLUMN ivr_flow, DROP COLUMN ivr_outcome, DROP COLUMN language,
        DROP COLUMN customer_id, DROP COLUMN account, DROP COLUMN reason, DROP COLUMN skills,
        DROP COLUMN priority;
    DROP TABLE callbacks;
    DROP TABLE tenant_trunks;
    DROP TABLE customers;
    ALTER TABLE dids DROP CONSTRAINT dids_flow_fk;
    ALTER TABLE dids DROP COLUMN flow;
    ALTER TABLE dids ADD COLUMN menu jsonb NOT NULL DEFAULT '{}'::jsonb;
    DROP TABLE ivr_flows;
    """)
