-- Identifiers a supervisor set for records (JSON PatientId), applied every
-- time the batch is separated again.
CREATE TABLE identifier_fixes (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    record_id TEXT NOT NULL,
    patient TEXT NOT NULL,
    fixed_by TEXT NOT NULL,
    fixed_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, record_id)
);
-- The patient of an on-demand batch, typed in rather than on a record sheet.
ALTER TABLE batches ADD COLUMN patient TEXT;
