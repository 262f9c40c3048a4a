-- Provenance ledger: records, RFC 6962 stored hashes, signed checkpoints.
CREATE TABLE ledger_head (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    size   INTEGER NOT NULL,
    origin TEXT    NOT NULL,
    vkey   TEXT    NOT NULL
);
CREATE TABLE ledger_records (
    idx  INTEGER PRIMARY KEY,
    data BLOB    NOT NULL
);
CREATE TABLE ledger_hashes (
    idx  INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL
);
CREATE TABLE ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    note BLOB    NOT NULL
);
CREATE TABLE blobs (
    digest     TEXT    PRIMARY KEY,
    media_type TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    created    TEXT    NOT NULL
);
