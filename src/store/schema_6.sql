-- A supervisor's decisions about single pages, applied every time the batch is
-- separated again: taken out (by whom), marked for rescan (why; cleared when
-- the page is rescanned), moved to another document.
ALTER TABLE pages ADD COLUMN removed_by TEXT;
ALTER TABLE pages ADD COLUMN rescan TEXT;
ALTER TABLE pages ADD COLUMN moved_to TEXT;
