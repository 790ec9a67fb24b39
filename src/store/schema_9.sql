-- Who acted in which role: audit events made by a signed-in operator carry
-- the role they held (empty for events from before accounts, from a station
-- without accounts, and from the station itself, such as its uploader).
ALTER TABLE audit ADD COLUMN role TEXT NOT NULL DEFAULT '';

-- Sampling QA: before a batch is approved a supervisor inspects a random
-- sample of its sides. Each draw is kept with its seed so it can be drawn
-- again; a failed sample sends the failing sides back for rescan and a new
-- draw follows.
CREATE TABLE samples (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    draw INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    -- JSON array of side numbers, in the order they are inspected.
    sides TEXT NOT NULL,
    drawn_by TEXT NOT NULL,
    drawn_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, draw)
) STRICT;
CREATE TABLE sample_verdicts (
    batch_id TEXT NOT NULL,
    draw INTEGER NOT NULL,
    side INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (batch_id, draw, side),
    FOREIGN KEY (batch_id, draw) REFERENCES samples (batch_id, draw)
) STRICT;

-- Signed operator lists taken (`folio operators import`): each must be
-- issued after the last, so an old list cannot be taken again.
CREATE TABLE operator_lists (
    issued TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    key TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at TEXT NOT NULL
) STRICT;

-- The audit chain's head (sequence number and hash) as each delivered batch
-- carried it to the central store: `folio check` finds a chain shorter than
-- an anchor (its last events removed) or differing from it.
CREATE TABLE audit_anchors (
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    target TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (batch_id, target)
) STRICT;
