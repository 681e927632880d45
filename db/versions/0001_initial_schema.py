"""The first schema: tenants, DIDs, agents, phones, queues, queue members, calls, recordings.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE tenants (
        id          bigserial PRIMARY KEY,
        code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
        name        text NOT NULL,
        timezone    text NOT NULL DEFAULT 'UTC',
        created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE queues (
        id                  bigserial PRIMARY KEY,
        tenant_id           bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name                text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
        description         text NOT NULL DEFAULT '',
        strategy            text NOT NULL DEFAULT 'ringall' CHECK (strategy IN
                            ('ringall','leastrecent','fewestcalls','random','rrmemory','rrordered',
                             'linear','wrandom')),
        ring_timeout_s      integer NOT NULL DEFAULT 15 CHECK (ring_timeout_s BETWEEN 1 AND 600),
        wrapup_s            integer NOT NULL DEFAULT 5 CHECK (wrapup_s BETWEEN 0 AND 3600),
        service_level_s     integer NOT NULL DEFAULT 20 CHECK (service_level_s BETWEEN 1 AND 3600),
        max_wait_s          integer NOT NULL DEFAULT 300 CHECK (max_wait_s BETWEEN 1 AND 86400),
        created_at          timestamptz NOT NULL DEFAULT now()
    );

    -- A DID belongs to one tenant; its IVR menu (digits -> queue) until IVR flows arrive, and the
    -- queue the dialplan falls back on when the middleware cannot answer.
    CREATE TABLE dids (
        number          text PRIMARY KEY CHECK (number ~ '^\\+?[0-9]{2,20}$'),
        tenant_id       bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        fallback_queue  text NOT NULL REFERENCES queues(name) ON UPDATE CASCADE,
        menu            jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at      timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE agents (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
        name        text NOT NULL,
        state       text NOT NULL DEFAULT 'logged_out' CHECK (state IN
                    ('logged_out','available','ringing','on_call','wrap_up','paused')),
        state_reason text NOT NULL DEFAULT '',
        state_since timestamptz NOT NULL DEFAULT now(),
        created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE agent_state_history (
        id          bigserial PRIMARY KEY,
        agent_id    bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        state       text NOT NULL,
        reason      text NOT NULL DEFAULT '',
        at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX agent_state_history_agent_at ON agent_state_history (agent_id, at);

    -- A SIP device: PJSIP endpoint + auth + aor, generated from these rows.
    CREATE TABLE phones (
        id          bigserial PRIMARY KEY,
        tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        agent_id    bigint REFERENCES agents(id) ON DELETE SET NULL,
        endpoint    text NOT NULL UNIQUE CHECK (endpoint ~ '^[A-Za-z0-9_.-]{1,64}$'),
        secret      text NOT NULL CHECK (length(secret) >= 8),
        caller_name text NOT NULL DEFAULT '',
        codecs      text NOT NULL DEFAULT 'alaw,ulaw,gsm',
        created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE queue_members (
        queue_id    bigint NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
        agent_id    bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        penalty     integer NOT NULL DEFAULT 0 CHECK (penalty BETWEEN 0 AND 100),
        PRIMARY KEY (queue_id, agent_id)
    );

    -- One row per call (Asterisk linkedid), assembled from AMI events; IVR facts written by the IVR.
    CREATE TABLE calls (
        linkedid            text PRIMARY KEY,
        tenant_id           bigint REFERENCES tenants(id) ON DELETE SET NULL,
        direction           text NOT NULL DEFAULT 'inbound',
        did                 text,
        caller_number       text,
        caller_name         text,
        started_at          timestamptz,
        answered_at         timestamptz,
        queue               text,
        queue_entered_at    timestamptz,
        agent_code          text,
        agent_channel       text,
        connected_at        timestamptz,
        ended_at            timestamptz,
        wait_s              numeric(10,3),
        talk_s              numeric(10,3),
        duration_s          numeric(10,3),
        ring_attempts       integer NOT NULL DEFAULT 0,
        disposition         text,
        hangup_cause        integer,
        ended_by            text,
        ivr_digits          text NOT NULL DEFAULT '',
        ivr_path            jsonb NOT NULL DEFAULT '[]'::jsonb,
        ivr_fallback        boolean NOT NULL DEFAULT false,
        legs                jsonb NOT NULL DEFAULT '[]'::jsonb,
        complete            boolean NOT NULL DEFAULT false,
        updated_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX calls_started_at ON calls (started_at);
    CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at);
    CREATE INDEX calls_agent_started ON calls (agent_code, started_at);
    CREATE INDEX calls_queue_started ON calls (queue, started_at);

    CREATE TABLE recordings (
        id          bigserial PRIMARY KEY,
        linkedid    text NOT NULL,
        tenant_id   bigint REFERENCES tenants(id) ON DELETE SET NULL,
        path        text NOT NULL UNIQUE,
        format      text NOT NULL,
        started_at  timestamptz,
        duration_s  numeric(10,3),
        size_bytes  bigint,
        sha256      text,
        created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX recordings_linkedid ON recordings (linkedid);
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE recordings;
    DROP TABLE calls;
    DROP TABLE queue_members;
    DROP TABLE phones;
    DROP TABLE agent_state_history;
    DROP TABLE agents;
    DROP TABLE dids;
    DROP TABLE queues;
    DROP TABLE tenants;
    """)
