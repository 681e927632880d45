"""Lead lists and recycling: several lists per campaign, each with a priority and an active flag (the
hopper takes the ready leads of the active lists, the highest priority first), and per lead the count
of calls that ended with each outcome or disposition, which the recycling rules limit. Every lead of a
campaign created before lists existed is put in its campaign's list "default".

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE lead_lists (
        id          bigserial PRIMARY KEY,
        campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,40}$'),
        priority    integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 99),
        active      boolean NOT NULL DEFAULT true,
        resets      integer NOT NULL DEFAULT 0,
        reset_at    timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (campaign_id, name)
    );
    INSERT INTO lead_lists (campaign_id, name) SELECT id, 'default' FROM campaigns;
    ALTER TABLE leads ADD COLUMN list_id bigint REFERENCES lead_lists(id) ON DELETE CASCADE,
                      ADD COLUMN tries jsonb NOT NULL DEFAULT '{}'::jsonb;
    UPDATE leads l SET list_id = ll.id FROM lead_lists ll WHERE ll.campaign_id = l.campaign_id;
    -- Before, only the total was kept: the last outcome is taken to account for all of a lead's calls.
    UPDATE leads SET tries = jsonb_build_object(last_outcome, attempts) WHERE last_outcome IS NOT NULL;
    ALTER TABLE leads ALTER COLUMN list_id SET NOT NULL;
    CREATE INDEX leads_list_status ON leads (list_id, status);
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE leads DROP COLUMN tries, DROP COLUMN list_id;
    DROP TABLE lead_lists;
    """)
