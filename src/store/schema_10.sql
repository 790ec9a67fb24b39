-- Scanning sessions (issue 17, item 3): one sign-in scanning with one device
-- and one profile. Its first sheet is Folio's test target; the target's
-- result is kept on the side that carried it (pages.target), and a session
-- is proven once any of its sides is a passing target.
CREATE TABLE scan_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    station TEXT NOT NULL,
    operator TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT '',
    -- The device as named to SANE (or the demo feeder, or import:<folder>),
    -- with the vendor and model it reported.
    device TEXT NOT NULL,
    vendor TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL,
    -- JSON: dpi, mode, source as asked for.
    settings TEXT NOT NULL,
    started TEXT NOT NULL
) STRICT;
ALTER TABLE pages ADD COLUMN session_id TEXT REFERENCES scan_sessions(id);
-- JSON of the test target's measurement, when the side is the target.
ALTER TABLE pages ADD COLUMN target TEXT;
ALTER TABLE pages ADD COLUMN target_passed INTEGER;
CREATE INDEX pages_session ON pages(session_id);
