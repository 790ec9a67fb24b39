-- The upload outbox: one row per approved batch until its store acknowledged
-- every document. Rows are never deleted, so the history of attempts stays.
CREATE TABLE outbox (
    batch_id TEXT PRIMARY KEY REFERENCES batches(id),
    priority INTEGER NOT NULL,          -- 0 on-demand, 1 the rest: lower first
    queued_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'parked', 'conflict', 'done')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    target TEXT,
    done_at TEXT
);
-- Each document the store acknowledged, per target: a record is delivered
-- once all its documents are here, and is never sent again to that target.
CREATE TABLE deliveries (
    document_id TEXT NOT NULL,
    target TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    location TEXT NOT NULL,
    already_there INTEGER NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (document_id, target)
);
-- Each document's PDF, built once and kept (content-addressed, next to the
-- page images) with its hashes; rebuilt only when its pages change.
CREATE TABLE document_pdfs (
    document_id TEXT PRIMARY KEY,
    pages_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    built_at TEXT NOT NULL
);
