-- The mission ledger: missions, plans, work, what workers and validators reported,
-- the event log, the audit log, the outbox and the inbox.

CREATE TABLE missions (
    id               uuid PRIMARY KEY,
    tenant           text NOT NULL,
    team             text NOT NULL,
    submitted_by     text NOT NULL,
    name             text NOT NULL,
    state            text NOT NULL,
    plan_version     integer NOT NULL,
    -- the last sequence number written to this mission's event log
    event_seq        bigint NOT NULL DEFAULT 0,
    -- the orchestrator replica that owns the mission, fenced by owner_epoch
    owner            text,
    owner_epoch      bigint NOT NULL DEFAULT 0,
    owner_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX missions_unfinished ON missions (created_at)
    WHERE state NOT IN ('completed', 'failed', 'cancelled');
CREATE INDEX missions_by_tenant ON missions (tenant, team, created_at);

CREATE TABLE plan_versions (
    mission_id  uuid NOT NULL REFERENCES missions (id),
    version     integer NOT NULL,
    plan        jsonb NOT NULL,
    source      text,
    created_by  text NOT NULL,
    approved_by text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mission_id, version)
);

CREATE TABLE milestones (
    mission_id   uuid NOT NULL REFERENCES missions (id),
    milestone_id text NOT NULL,
    ordinal      integer NOT NULL,
    state        text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mission_id, milestone_id)
);

CREATE TABLE features (
    mission_id   uuid NOT NULL,
    feature_id   text NOT NULL,
    milestone_id text NOT NULL,
    ordinal      integer NOT NULL,
    state        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mission_id, feature_id),
    FOREIGN KEY (mission_id, milestone_id) REFERENCES milestones (mission_id, milestone_id)
);

CREATE TABLE attempts (
    id               uuid PRIMARY KEY,
    mission_id       uuid NOT NULL REFERENCES missions (id),
    -- 'feature:<id>' or 'validation:<milestone>:<repository>'
    target_key       text NOT NULL,
    target           jsonb NOT NULL,
    epoch            bigint NOT NULL,
    state            text NOT NULL,
    worker           text,
    lease_expires_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    reason           text,
    UNIQUE (mission_id, target_key, epoch)
);
-- at most one live attempt per target
CREATE UNIQUE INDEX attempts_one_live ON attempts (mission_id, target_key)
    WHERE state IN ('dispatched', 'running');
CREATE INDEX attempts_live_leases ON attempts (lease_expires_at)
    WHERE state IN ('dispatched', 'running');
CREATE INDEX attempts_by_mission ON attempts (mission_id, created_at);

CREATE TABLE handoffs (
    attempt_id uuid PRIMARY KEY REFERENCES attempts (id),
    mission_id uuid NOT NULL REFERENCES missions (id),
    handoff    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handoffs_by_mission ON handoffs (mission_id);

CREATE TABLE findings (
    id           bigserial PRIMARY KEY,
    mission_id   uuid NOT NULL REFERENCES missions (id),
    attempt_id   uuid NOT NULL REFERENCES attempts (id),
    milestone_id text NOT NULL,
    finding      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX findings_by_mission ON findings (mission_id, id);

CREATE TABLE events (
    mission_id uuid NOT NULL REFERENCES missions (id),
    seq        bigint NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    actor      text NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (mission_id, seq)
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    mission_id uuid,
    detail     jsonb NOT NULL
);
CREATE INDEX audit_log_by_mission ON audit_log (mission_id, id);

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    mission_id uuid,
    topic      text NOT NULL,
    msg_id     text NOT NULL UNIQUE,
    payload    jsonb NOT NULL,
    headers    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- dedupe ids of messages already applied
CREATE TABLE inbox (
    msg_id     text PRIMARY KEY,
    mission_id uuid,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The event log and the audit log are append-only.
CREATE FUNCTION sortie_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION sortie_append_only();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION sortie_append_only();
