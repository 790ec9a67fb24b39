-- Patch codes (issue 19, item 3): the Kodak patch read on a side as scanned
-- ('1', '2', '3', '4', '6' or 'T'), NULL when none was.
ALTER TABLE pages ADD COLUMN patch TEXT CHECK (patch IS NULL OR patch IN ('1', '2', '3', '4', '6', 'T'));
