"""Carrier trunks as data: each trunk's address, source networks, registration and outbound
credentials, codecs, DTMF mode, caller-ID presentation, channel cap and qualify interval, rendered into
Asterisk's PJSIP configuration; a change NOTIFYs `callcenter_config` as the other config tables do.
The carrier simulator that asterisk-config/pjsip.conf held until now becomes a row here when a tenant
or campaign uses it, so an upgraded center keeps its calls flowing.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE trunks (
        id            bigserial PRIMARY KEY,
        name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
        host          text,
        port          integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
        match         text[] NOT NULL DEFAULT '{}',
        username      text,
        password      text,
        register      boolean NOT NULL DEFAULT false,
        contact_user  text,
        codecs        text[] NOT NULL DEFAULT '{alaw,ulaw}',
        dtmf_mode     text NOT NULL DEFAULT 'rfc4733',
        caller_id     text NOT NULL DEFAULT 'pai' CHECK (caller_id IN ('pai', 'rpid', 'from')),
        max_channels  integer CHECK (max_channels >= 1),
        qualify_s     integer NOT NULL DEFAULT 60 CHECK (qualify_s BETWEEN 0 AND 3600),
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CHECK (host IS NOT NULL OR match <> '{}'),
        CHECK ((username IS NULL) = (password IS NULL)),
        CHECK (NOT register OR (host IS NOT NULL AND username IS NOT NULL))
    );
    -- What the static [carrier-sim] of pjsip.conf was (SIPp customers on 5080 answer no OPTIONS).
    INSERT INTO trunks (name, host, port, match, qualify_s)
        SELECT 'carrier-sim', '127.0.0.1', 5080, '{127.0.0.1/32}', 0
        WHERE EXISTS (SELECT 1 FROM tenant_trunks WHERE trunk = 'carrier-sim')
           OR EXISTS (SELECT 1 FROM campaigns WHERE trunk = 'carrier-sim');
    -- Every node hears of a trunk change (its status monitor reloads; middleware/config_cache.py).
    CREATE TRIGGER trunks_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trunks
        FOR EACH STATEMENT EXECUTE FUNCTION callcenter_config_changed();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE trunks;")
