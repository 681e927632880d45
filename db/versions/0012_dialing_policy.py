"""Each tenant's outbound dialing policy: its own country, the other countries and the restricted number
types it may call, and its callback rate limits (middleware/dialing/policy.py says what each means).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE tenants
        ADD COLUMN country text NOT NULL DEFAULT 'US' CHECK (country ~ '^[A-Z]{2}$'),
        ADD COLUMN dial_countries text[] NOT NULL DEFAULT '{}'
            CHECK (array_to_string(dial_countries, ',') ~ '^([A-Z]{2}(,[A-Z]{2})*)?$'),
        ADD COLUMN dial_number_types text[] NOT NULL DEFAULT '{}'
            CHECK (dial_number_types <@ ARRAY['premium_rate','shared_cost','personal','unknown','satellite']),
        ADD COLUMN callbacks_per_number_day integer NOT NULL DEFAULT 3 CHECK (callbacks_per_number_day >= 0),
        ADD COLUMN callbacks_per_hour integer NOT NULL DEFAULT 60 CHECK (callbacks_per_hour >= 0);
    CREATE INDEX callbacks_rate ON callbacks (tenant_id, requested_at);
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX callbacks_rate;
    ALTER TABLE tenants DROP COLUMN country, DROP COLUMN dial_countries, DROP COLUMN dial_number_types,
        DROP COLUMN callbacks_per_number_day, DROP COLUMN callbacks_per_hour;
    """)
