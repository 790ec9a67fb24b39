-- The on-demand worklist (issue 21). The last list fetched from the EHR, in
-- one row: the list as read (JSON: the items, with the central store's
-- answers), when and from where; and the last try, so a station offline says
-- how old its list is and why it is not newer.
CREATE TABLE worklist_cache (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_at TEXT,
    source TEXT,
    list TEXT,
    tried_at TEXT NOT NULL,
    last_error TEXT
);
-- Which scan was started from which appointment's entry: the entry is done
-- once that batch is delivered to the store, verified.
CREATE TABLE worklist_scans (
    appointment_id TEXT NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    nhs_number TEXT,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    PRIMARY KEY (appointment_id, batch_id)
);
CREATE INDEX records_nhs ON records(nhs_number);
