-- Patch codes (issue 19, item 3): the Kodak patch read on a side as scanned
-- ('1', '2', '3', '4', '6' or 'T'), NULL when none was.
ALTER TABLE pages ADD COLUMN patch TEXT CHECK (patch IS NULL OR patch IN ('1', '2', '3', '4', '6', 'T'));
-- Barcode symbols (issue 19, item 4): each symbol read on the side, as JSON
-- [{"text", "symbology", "decoder": "zbar"|"zxing_cpp", "bbox": [x, y, w, h]}];
-- `barcodes` keeps their texts as before.
ALTER TABLE pages ADD COLUMN symbols TEXT;
