"""Asterisk's own CDR rows (cdr_pgsql writes them straight to PostgreSQL, whatever the middleware is
doing), and a mark on call records rebuilt from them by `callcenter cdr reconcile`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- cdr_pgsql fills the columns it finds by name: the standard CDR fields and our CDR(cc_*) variables.
    CREATE TABLE cdr (
        id              bigserial PRIMARY KEY,
        calldate        timestamptz NOT NULL DEFAULT now(),
        clid            text NOT NULL DEFAULT '',
        src             text NOT NULL DEFAULT '',
        dst             text NOT NULL DEFAULT '',
        dcontext        text NOT NULL DEFAULT '',
        channel         text NOT NULL DEFAULT '',
        dstchannel      text NOT NULL DEFAULT '',
        lastapp         text NOT NULL DEFAULT '',
        lastdata        text NOT NULL DEFAULT '',
        duration        integer NOT NULL DEFAULT 0,
        billsec         integer NOT NULL DEFAULT 0,
        disposition     text NOT NULL DEFAULT '',
        amaflags        integer NOT NULL DEFAULT 0,
        accountcode     text NOT NULL DEFAULT '',
        uniqueid        text NOT NULL DEFAULT '',
        userfield       text NOT NULL DEFAULT '',
        peeraccount     text NOT NULL DEFAULT '',
        linkedid        text NOT NULL DEFAULT '',
        sequence        integer NOT NULL DEFAULT 0,
        cc_tenant       text NOT NULL DEFAULT '',
        cc_did          text NOT NULL DEFAULT '',
        cc_queue        text NOT NULL DEFAULT '',
        cc_transferred_to text NOT NULL DEFAULT ''
    );
    CREATE INDEX cdr_linkedid ON cdr (linkedid);
    CREATE INDEX cdr_calldate ON cdr (calldate);
    ALTER TABLE calls ADD COLUMN reconciled boolean NOT NULL DEFAULT false;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE calls DROP COLUMN reconciled;
    DROP TABLE cdr;
    """)
