"""Least privilege where a deployment creates the roles (docker/postgres-init.sh): Asterisk's cdr_pgsql
writes its CDR rows as `asterisk_cdr`, which may insert into `cdr` and do nothing else. Where the role
does not exist (a local stack under trust auth) this changes nothing.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asterisk_cdr') THEN
            GRANT USAGE ON SCHEMA public TO asterisk_cdr;
            GRANT INSERT ON cdr TO asterisk_cdr;
            GRANT USAGE ON SEQUENCE cdr_id_seq TO asterisk_cdr;
        END IF;
    END $$;
    """)


def downgrade() -> None:
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asterisk_cdr') THEN
            REVOKE INSERT ON cdr FROM asterisk_cdr;
            REVOKE USAGE ON SEQUENCE cdr_id_seq FROM asterisk_cdr;
        END IF;
    END $$;
    """)
