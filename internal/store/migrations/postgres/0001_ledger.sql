-- Provenance ledger: records, RFC 6962 stored hashes, signed checkpoints.
CREATE TABLE ledger_head (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    size   BIGINT  NOT NULL,
    origin TEXT    NOT NULL,
    vkey   TEXT    NOT NULL
);
CREATE TABLE ledger_records (
    idx  BIGINT PRIMARY KEY,
    data BYTEA  NOT NULL
);
CREATE TABLE ledger_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA  NOT NULL
);
CREATE TABLE ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    note BYTEA  NOT NULL
);
CREATE TABLE blobs (
    digest     TEXT        PRIMARY KEY,
    media_type TEXT        NOT NULL,
    data       BYTEA       NOT NULL,
    created    TIMESTAMPTZ NOT NULL
);
