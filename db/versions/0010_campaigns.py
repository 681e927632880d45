"""Outbound campaigns: campaigns (each with its own app_queue queue of agents), leads, do-not-call
lists, one row per dial attempt; queue weights (inbound keeps priority over a campaign for blended
agents); the campaign and direction of a call record.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- app_queue: when an agent is free in several queues, the queue with the higher weight is served first.
    ALTER TABLE queues ADD COLUMN weight integer NOT NULL DEFAULT 10 CHECK (weight BETWEEN 0 AND 100);

    CREATE TABLE campaigns (
        id                  bigserial PRIMARY KEY,
        tenant_id           bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        code                text NOT NULL UNIQUE,
        name                text NOT NULL DEFAULT '',
        queue_id            bigint NOT NULL UNIQUE REFERENCES queues(id),
        caller_id           text NOT NULL,
        trunk               text NOT NULL,
        mode                text NOT NULL DEFAULT 'predictive'
                            CHECK (mode IN ('preview', 'progressive', 'predictive')),
        status              text NOT NULL DEFAULT 'stopped' CHECK (status IN ('running', 'paused', 'stopped')),
        abandon_target      numeric(5,4) NOT NULL DEFAULT 0.03 CHECK (abandon_target BETWEEN 0 AND 0.03),
        window_start        time NOT NULL DEFAULT '08:00',
        window_end          time NOT NULL DEFAULT '21:00',
        retry_rules         jsonb NOT NULL DEFAULT '{}'::jsonb,
        max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 20),
        ring_timeout_s      integer NOT NULL DEFAULT 20 CHECK (ring_timeout_s BETWEEN 15 AND 120),
        amd                 boolean NOT NULL DEFAULT true,
        machine_action      text NOT NULL DEFAULT 'hangup' CHECK (machine_action IN ('hangup', 'message', 'agent')),
        machine_prompt      text NOT NULL DEFAULT '',
        safe_harbor_prompt  text NOT NULL,
        max_lines           integer NOT NULL DEFAULT 50 CHECK (max_lines BETWEEN 1 AND 1000),
        max_ratio           numeric(5,2) NOT NULL DEFAULT 4 CHECK (max_ratio BETWEEN 1 AND 20),
        preview_s           integer NOT NULL DEFAULT 10 CHECK (preview_s BETWEEN 0 AND 600),
        created_at          timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE leads (
        id              bigserial PRIMARY KEY,
        campaign_id     bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        number          text NOT NULL,
        timezone        text NOT NULL,
        name            text NOT NULL DEFAULT '',
        data            jsonb NOT NULL DEFAULT '{}'::jsonb,
        status          text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'dialing', 'done', 'failed', 'dnc')),
        attempts        integer NOT NULL DEFAULT 0,
        next_at         timestamptz NOT NULL DEFAULT now(),
        last_outcome    text,
        disposition     text,
        source_line     integer,
        imported_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (campaign_id, number)
    );
    CREATE INDEX leads_hopper ON leads (campaign_id, next_at) WHERE status = 'ready';

    -- Do-not-call: scope global (no tenant, no campaign), tenant, or campaign.
    CREATE TABLE dnc (
        id          bigserial PRIMARY KEY,
        scope       text NOT NULL CHECK (scope IN ('global', 'tenant', 'campaign')),
        tenant_id   bigint REFERENCES tenants(id) ON DELETE CASCADE,
        campaign_id bigint REFERENCES campaigns(id) ON DELETE CASCADE,
        number      text NOT NULL,
        source      text NOT NULL DEFAULT '',
        added_at    timestamptz NOT NULL DEFAULT now(),
        CHECK ((scope = 'global' AND tenant_id IS NULL AND campaign_id IS NULL)
            OR (scope = 'tenant' AND tenant_id IS NOT NULL AND campaign_id IS NULL)
            OR (scope = 'campaign' AND campaign_id IS NOT NULL))
    );
    CREATE UNIQUE INDEX dnc_unique ON dnc (scope, COALESCE(tenant_id, 0), COALESCE(campaign_id, 0), number);
    CREATE INDEX dnc_number ON dnc (number);

    CREATE TABLE dial_attempts (
        id              bigserial PRIMARY KEY,
        campaign_id     bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        lead_id         bigint NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
        number          text NOT NULL,
        node            text NOT NULL DEFAULT '',
        linkedid        text UNIQUE,
        status          text NOT NULL DEFAULT 'dialing' CHECK (status IN ('dialing', 'done')),
        outcome         text,
        launched_at     timestamptz NOT NULL DEFAULT now(),
        answered_at     timestamptz,
        human_at        timestamptz,
        connected_at    timestamptz,
        ended_at        timestamptz,
        ring_s          numeric(10,3),
        wait_s          numeric(10,3),
        talk_s          numeric(10,3),
        agent_code      text,
        amd_cause       text,
        reason          integer
    );
    CREATE INDEX dial_attempts_campaign_time ON dial_attempts (campaign_id, launched_at);
    CREATE INDEX dial_attempts_in_flight ON dial_attempts (campaign_id) WHERE status = 'dialing';
    CREATE INDEX dial_attempts_number ON dial_attempts (number, ended_at) WHERE outcome = 'abandoned';

    ALTER TABLE calls ADD COLUMN campaign text;
    CREATE INDEX calls_campaign_started ON calls (campaign, started_at) WHERE campaign IS NOT NULL;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE calls DROP COLUMN campaign;
    DROP TABLE dial_attempts;
    DROP TABLE dnc;
    DROP TABLE leads;
    DROP TABLE campaigns;
    ALTER TABLE queues DROP COLUMN weight;
    """)
