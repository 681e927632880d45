"""What a call's first AGI step reads (its DID, the DID's flow, the queue's routing, the tenant) is
kept in memory by the middleware until it changes: each of these tables NOTIFYs `callcenter_config`
(payload: the table) after any statement that writes it, whoever the writer (the CLI, the API,
psql), so every node drops what it kept (middleware/config_cache.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("tenants", "dids", "ivr_flows", "queues")


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION callcenter_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('callcenter_config', TG_TABLE_NAME);
        RETURN NULL;
    END $$;
    """)
    for table in TABLES:
        op.execute(f"""CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                       ON {table} FOR EACH STATEMENT EXECUTE FUNCTION callcenter_config_changed()""")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_config_changed ON {table}")
    op.execute("DROP FUNCTION callcenter_config_changed()")
