-- Control plane (mlsec server): inventory, findings, evidence, incidents,
-- API tokens, UI sessions, settings and the background job queue.
CREATE TABLE models (
    id             INTEGER     PRIMARY KEY AUTOINCREMENT,
    name           TEXT        NOT NULL UNIQUE,
    owner          TEXT        NOT NULL DEFAULT '',
    tags           TEXT        NOT NULL DEFAULT '',
    risk           INTEGER     NOT NULL DEFAULT -1,
    policy         TEXT        NOT NULL DEFAULT '',
    latest_version INTEGER,
    versions       INTEGER     NOT NULL DEFAULT 0,
    n_critical     INTEGER     NOT NULL DEFAULT 0,
    n_high         INTEGER     NOT NULL DEFAULT 0,
    n_medium       INTEGER     NOT NULL DEFAULT 0,
    n_low          INTEGER     NOT NULL DEFAULT 0,
    n_info         INTEGER     NOT NULL DEFAULT 0,
    created        TEXT        NOT NULL,
    updated        TEXT        NOT NULL
);
CREATE INDEX models_risk ON models (risk DESC, name);
CREATE TABLE model_versions (
    id         INTEGER     PRIMARY KEY AUTOINCREMENT,
    model_id   INTEGER     NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version    TEXT        NOT NULL,
    digest     TEXT        NOT NULL DEFAULT '',
    format     TEXT        NOT NULL DEFAULT '',
    size       INTEGER     NOT NULL DEFAULT 0,
    source_uri TEXT        NOT NULL DEFAULT '',
    signature  TEXT        NOT NULL DEFAULT 'unsigned',
    status     TEXT        NOT NULL DEFAULT '',
    created    TEXT        NOT NULL,
    updated    TEXT        NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TABLE findings (
    id          INTEGER     PRIMARY KEY AUTOINCREMENT,
    model_id    INTEGER     NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version_id  INTEGER     NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    rule_id     TEXT        NOT NULL,
    severity    INTEGER     NOT NULL,
    title       TEXT        NOT NULL,
    path        TEXT        NOT NULL DEFAULT '',
    location    TEXT        NOT NULL DEFAULT '',
    detail      TEXT        NOT NULL DEFAULT '{}',
    created     TEXT        NOT NULL
);
CREATE INDEX findings_version ON findings (version_id, severity DESC, id);
CREATE INDEX findings_model ON findings (model_id);
CREATE INDEX findings_severity ON findings (severity DESC, id DESC);
CREATE INDEX findings_rule ON findings (rule_id, severity DESC, id DESC);
CREATE TABLE evidence (
    id         INTEGER     PRIMARY KEY AUTOINCREMENT,
    version_id INTEGER     NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    kind       TEXT        NOT NULL,
    digest     TEXT        NOT NULL,
    media_type TEXT        NOT NULL,
    summary    TEXT        NOT NULL DEFAULT '{}',
    actor      TEXT        NOT NULL DEFAULT '',
    created    TEXT        NOT NULL
);
CREATE INDEX evidence_version ON evidence (version_id, kind, id DESC);
CREATE TABLE incidents (
    id       INTEGER     PRIMARY KEY AUTOINCREMENT,
    title    TEXT        NOT NULL,
    severity INTEGER     NOT NULL,
    status   TEXT        NOT NULL,
    assignee TEXT        NOT NULL DEFAULT '',
    source   TEXT        NOT NULL DEFAULT '',
    model    TEXT        NOT NULL DEFAULT '',
    detail   TEXT        NOT NULL DEFAULT '',
    created  TEXT        NOT NULL,
    updated  TEXT        NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, severity DESC, id DESC);
CREATE TABLE incident_events (
    id          INTEGER     PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER     NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    time        TEXT        NOT NULL,
    actor       TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    note        TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
CREATE TABLE api_tokens (
    id       INTEGER     PRIMARY KEY AUTOINCREMENT,
    name     TEXT        NOT NULL,
    role     TEXT        NOT NULL,
    hash     BLOB        NOT NULL UNIQUE,
    created  TEXT        NOT NULL,
    revoked  TEXT       ,
    last_used TEXT       
);
CREATE TABLE sessions (
    hash     BLOB        PRIMARY KEY,
    token_id INTEGER     NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf     TEXT        NOT NULL,
    expires  TEXT        NOT NULL
);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE jobs (
    id        INTEGER     PRIMARY KEY AUTOINCREMENT,
    kind      TEXT        NOT NULL,
    payload   TEXT        NOT NULL DEFAULT '',
    state     TEXT        NOT NULL DEFAULT 'queued',
    attempts  INTEGER     NOT NULL DEFAULT 0,
    run_after TEXT        NOT NULL,
    locked_by TEXT        NOT NULL DEFAULT '',
    locked_at TEXT       ,
    error     TEXT        NOT NULL DEFAULT '',
    created   TEXT        NOT NULL
);
CREATE INDEX jobs_queued ON jobs (state, run_after, id);
-- The provenance timeline per subject: an index over ledger records (the
-- ledger stays the source of truth; rebuilt by catching up from seq).
CREATE TABLE ledger_index (
    seq     INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT '',
    time    TEXT NOT NULL
);
CREATE INDEX ledger_index_subject ON ledger_index (subject, seq DESC);
