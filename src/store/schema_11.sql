-- Verified receipt (issue 18, item 1): each time a delivered document is read
-- back from the store, what came back. A document is verified at a target
-- once a row there says so for the hash it was sent with; rows are never
-- changed or deleted, so every check stays on record.
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    target TEXT NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    record_id TEXT NOT NULL,
    -- What was sent.
    sent_bytes INTEGER NOT NULL,
    sent_sha256 TEXT NOT NULL,
    -- What came back (NULL: nothing did).
    read_bytes INTEGER,
    read_sha256 TEXT,
    -- The store's record of the document, where its content was read, its
    -- version and ETag, as the store gave them.
    location TEXT NOT NULL,
    content_location TEXT,
    version TEXT,
    etag TEXT,
    verified INTEGER NOT NULL CHECK (verified IN (0, 1)),
    -- Why it is not verified, in words ('' when it is).
    detail TEXT NOT NULL,
    checked_at TEXT NOT NULL
) STRICT;
CREATE INDEX receipts_batch ON receipts(batch_id, target);
CREATE INDEX receipts_document ON receipts(document_id, target);
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
