-- Control plane (mlsec server): inventory, findings, evidence, incidents,
-- API tokens, UI sessions, settings and the background job queue.
CREATE TABLE models (
    id             BIGSERIAL   PRIMARY KEY,
    name           TEXT        NOT NULL UNIQUE,
    owner          TEXT        NOT NULL DEFAULT '',
    tags           TEXT        NOT NULL DEFAULT '',
    risk           INTEGER     NOT NULL DEFAULT -1,
    policy         TEXT        NOT NULL DEFAULT '',
    latest_version BIGINT,
    versions       INTEGER     NOT NULL DEFAULT 0,
    n_critical     INTEGER     NOT NULL DEFAULT 0,
    n_high         INTEGER     NOT NULL DEFAULT 0,
    n_medium       INTEGER     NOT NULL DEFAULT 0,
    n_low          INTEGER     NOT NULL DEFAULT 0,
    n_info         INTEGER     NOT NULL DEFAULT 0,
    created        TIMESTAMPTZ NOT NULL,
    updated        TIMESTAMPTZ NOT NULL
);
CREATE INDEX models_risk ON models (risk DESC, name);
CREATE TABLE model_versions (
    id         BIGSERIAL   PRIMARY KEY,
    model_id   BIGINT      NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version    TEXT        NOT NULL,
    digest     TEXT        NOT NULL DEFAULT '',
    format     TEXT        NOT NULL DEFAULT '',
    size       BIGINT      NOT NULL DEFAULT 0,
    source_uri TEXT        NOT NULL DEFAULT '',
    signature  TEXT        NOT NULL DEFAULT 'unsigned',
    status     TEXT        NOT NULL DEFAULT '',
    created    TIMESTAMPTZ NOT NULL,
    updated    TIMESTAMPTZ NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TABLE findings (
    id          BIGSERIAL   PRIMARY KEY,
    model_id    BIGINT      NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version_id  BIGINT      NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    rule_id     TEXT        NOT NULL,
    severity    INTEGER     NOT NULL,
    title       TEXT        NOT NULL,
    path        TEXT        NOT NULL DEFAULT '',
    location    TEXT        NOT NULL DEFAULT '',
    detail      TEXT        NOT NULL DEFAULT '{}',
    created     TIMESTAMPTZ NOT NULL
);
CREATE INDEX findings_version ON findings (version_id, severity DESC, id);
CREATE INDEX findings_model ON findings (model_id);
CREATE INDEX findings_severity ON findings (severity DESC, id DESC);
CREATE INDEX findings_rule ON findings (rule_id, severity DESC, id DESC);
CREATE TABLE evidence (
    id         BIGSERIAL   PRIMARY KEY,
    version_id BIGINT      NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    kind       TEXT        NOT NULL,
    digest     TEXT        NOT NULL,
    media_type TEXT        NOT NULL,
    summary    TEXT        NOT NULL DEFAULT '{}',
    actor      TEXT        NOT NULL DEFAULT '',
    created    TIMESTAMPTZ NOT NULL
);
CREATE INDEX evidence_version ON evidence (version_id, kind, id DESC);
CREATE TABLE incidents (
    id       BIGSERIAL   PRIMARY KEY,
    title    TEXT        NOT NULL,
    severity INTEGER     NOT NULL,
    status   TEXT        NOT NULL,
    assignee TEXT        NOT NULL DEFAULT '',
    source   TEXT        NOT NULL DEFAULT '',
    model    TEXT        NOT NULL DEFAULT '',
    detail   TEXT        NOT NULL DEFAULT '',
    created  TIMESTAMPTZ NOT NULL,
    updated  TIMESTAMPTZ NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, severity DESC, id DESC);
CREATE TABLE incident_events (
    id          BIGSERIAL   PRIMARY KEY,
    incident_id BIGINT      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    time        TIMESTAMPTZ NOT NULL,
    actor       TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    note        TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
CREATE TABLE api_tokens (
    id       BIGSERIAL   PRIMARY KEY,
    name     TEXT        NOT NULL,
    role     TEXT        NOT NULL,
    hash     BYTEA       NOT NULL UNIQUE,
    created  TIMESTAMPTZ NOT NULL,
    revoked  TIMESTAMPTZ,
    last_used TIMESTAMPTZ
);
CREATE TABLE sessions (
    hash     BYTEA       PRIMARY KEY,
    token_id BIGINT      NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf     TEXT        NOT NULL,
    expires  TIMESTAMPTZ NOT NULL
);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE jobs (
    id        BIGSERIAL   PRIMARY KEY,
    kind      TEXT        NOT NULL,
    payload   TEXT        NOT NULL DEFAULT '',
    state     TEXT        NOT NULL DEFAULT 'queued',
    attempts  INTEGER     NOT NULL DEFAULT 0,
    run_after TIMESTAMPTZ NOT NULL,
    locked_by TEXT        NOT NULL DEFAULT '',
    locked_at TIMESTAMPTZ,
    error     TEXT        NOT NULL DEFAULT '',
    created   TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_queued ON jobs (state, run_after, id);
-- The provenance timeline per subject: an index over ledger records (the
-- ledger stays the source of truth; rebuilt by catching up from seq).
CREATE TABLE ledger_index (
    seq     BIGINT PRIMARY KEY,
    subject TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT '',
    time    TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_index_subject ON ledger_index (subject, seq DESC);
