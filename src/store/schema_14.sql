-- Searchable text (issue 19, item 2). A batch wants text when its profile,
-- a flag or a person on demand asked for it: one row, the OCR worker's queue.
CREATE TABLE text_requests (
    batch_id TEXT PRIMARY KEY REFERENCES batches(id),
    requested_at TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    language TEXT NOT NULL
);
-- The words read on a page image, by its SHA-256 (the text is the image's:
-- a page turned in review is a new image and is read again). `state` is
-- 'reading' while a worker has it (`claimed_by` names the process, claimed
-- at `started_at`: a claim whose process is gone, or older than any page
-- takes, is taken over), 'done' with `words` as JSON
-- [{"text", "bbox": [x, y, w, h], "conf"}] in reading order, or 'failed' with
-- `error`. `attempts` counts claims, so a page that stops OCR every time
-- (a crash) is failed instead of tried for ever.
CREATE TABLE page_text (
    image_sha256 TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('reading', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at TEXT NOT NULL,
    claimed_by TEXT,
    words TEXT,
    error TEXT,
    engine TEXT,
    language TEXT NOT NULL,
    read_at TEXT
);
-- Patch meanings per profile (issue 19, item 3): what each patch code does
-- in this batch, as JSON {"2": "new_document", ...}, fixed when the batch
-- began from its scan profile; NULL: the station's `[patches]`.
ALTER TABLE batches ADD COLUMN patches TEXT;
