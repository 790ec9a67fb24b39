-- The paper's life after upload (issue 18, items 2-5).
-- Where the paper is (a box or trolley label), until when it is held once
-- every document is verified in the store, and the newest flag when the
-- batch was approved (flags after it were raised since: they must be
-- resolved before the paper may go).
ALTER TABLE batches ADD COLUMN paper_location TEXT;
ALTER TABLE batches ADD COLUMN hold_until TEXT;
ALTER TABLE batches ADD COLUMN flags_at_approval INTEGER NOT NULL DEFAULT 0;
-- Legal holds on a batch (record_id NULL) or one record: in force until
-- lifted; rows are kept, so every hold and lift stays listed.
CREATE TABLE legal_holds (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    record_id TEXT REFERENCES records(id),
    kind TEXT NOT NULL CHECK (kind IN ('litigation', 'complaint', 'inquiry', 'clinical_query')),
    reason TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_role TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    lifted_by TEXT,
    lifted_role TEXT,
    lifted_at TEXT,
    lift_reason TEXT
) STRICT;
CREATE INDEX legal_holds_batch ON legal_holds(batch_id);
-- The destruction register: one entry per certificate, hash-chained like
-- the audit (each entry's hash covers the previous one's), append-only.
CREATE TABLE destruction_register (
    seq INTEGER PRIMARY KEY,
    certificate_id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    station TEXT NOT NULL,
    authorised_by TEXT NOT NULL,
    witness TEXT NOT NULL,
    method TEXT NOT NULL,
    -- JSON array of the batch ids destroyed.
    batches TEXT NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    json_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) STRICT;
CREATE TRIGGER destruction_register_no_update BEFORE UPDATE ON destruction_register BEGIN SELECT RAISE(ABORT, 'the destruction register is append-only'); END;
CREATE TRIGGER destruction_register_no_delete BEFORE DELETE ON destruction_register BEGIN SELECT RAISE(ABORT, 'the destruction register is append-only'); END;
-- A page whose image was purged from the cache after its paper was
-- destroyed (its row, hash and receipts stay).
ALTER TABLE pages ADD COLUMN purged_at TEXT;
