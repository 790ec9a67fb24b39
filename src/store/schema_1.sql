CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    specialty TEXT,
    duplex INTEGER NOT NULL,
    dpi INTEGER,
    station TEXT NOT NULL,
    operator TEXT NOT NULL,
    created TEXT NOT NULL,
    closed TEXT,
    state TEXT NOT NULL,
    expected_sheets INTEGER,
    last_error TEXT
);
CREATE TABLE pages (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    side INTEGER NOT NULL,
    sheet INTEGER NOT NULL,
    face TEXT NOT NULL,
    origin TEXT NOT NULL,
    image_sha256 TEXT,
    encoding TEXT,
    kind TEXT,
    width INTEGER,
    height INTEGER,
    dpi INTEGER,
    bytes INTEGER,
    barcodes TEXT NOT NULL DEFAULT '[]',
    metrics TEXT,
    blank INTEGER NOT NULL DEFAULT 0,
    restored INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (batch_id, side)
);
CREATE TABLE records (
    id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    ordinal INTEGER NOT NULL,
    nhs_number TEXT,
    hospital_number TEXT,
    specialty TEXT
);
CREATE INDEX records_batch ON records(batch_id, ordinal);
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records(id),
    batch_id TEXT NOT NULL REFERENCES batches(id),
    ordinal INTEGER NOT NULL,
    doc_type TEXT
);
CREATE INDEX documents_record ON documents(record_id, ordinal);
CREATE TABLE document_pages (
    document_id TEXT NOT NULL REFERENCES documents(id),
    batch_id TEXT NOT NULL,
    side INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (document_id, position)
);
CREATE TABLE flags (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    record_id TEXT,
    side INTEGER,
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    resolved_by TEXT,
    resolution TEXT,
    resolved_at TEXT
);
CREATE INDEX flags_batch ON flags(batch_id);
CREATE TABLE removed (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    side INTEGER NOT NULL,
    reason TEXT NOT NULL,
    barcode TEXT,
    PRIMARY KEY (batch_id, side)
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    station TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
