//! Hand-made image files for hostile-input tests: TIFFs and PNGs written byte
//! by byte, so that a header can say what the data does not hold. Included
//! with `#[path]` by the tests that need it.
#![allow(dead_code)]

/// One page of a hand-made TIFF.
#[derive(Debug, Clone)]
pub struct TiffPage<'a> {
    pub width: u32,
    pub height: u32,
    pub bits: u16,
    pub samples: u16,
    /// 0 WhiteIsZero, 1 BlackIsZero, 2 RGB.
    pub photometric: u16,
    pub data: &'a [u8],
    /// Where the strip is said to start, when not where it is.
    pub strip_offset: Option<u32>,
}

/// An 8-bit grey TIFF page.
pub fn gray_page(width: u32, height: u32, data: &[u8]) -> TiffPage<'_> {
    TiffPage {
        width,
        height,
        bits: 8,
        samples: 1,
        photometric: 1,
        data,
        strip_offset: None,
    }
}

/// A little-endian uncompressed TIFF with one directory per page, each
/// directory written before its pixel data (so cutting the file short leaves
/// the directories whole and the strips short). The strip's byte count is what
/// the page's size calls for, whatever `data` holds.
pub fn tiff(pages: &[TiffPage<'_>]) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    for (i, p) in pages.iter().enumerate() {
        let row_bytes = (p.width as u64 * p.bits as u64 * p.samples as u64).div_ceil(8);
        let entries: [(u16, u16, u32); 9] = [
            (256, 4, p.width),
            (257, 4, p.height),
            (258, 3, p.bits as u32),
            (259, 3, 1),
            (262, 3, p.photometric as u32),
            (273, 4, 0), // the strip's offset, filled in below
            (277, 3, p.samples as u32),
            (278, 4, p.height),
            (
                279,
                4,
                (row_bytes * p.height as u64).min(u32::MAX as u64) as u32,
            ),
        ];
        let ifd_len = 2 + 12 * entries.len() + 4;
        let data_at = (out.len() + ifd_len) as u32;
        let next = if i + 1 < pages.len() {
            data_at + p.data.len() as u32
        } else {
            0
        };
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            let value = if tag == 273 {
                p.strip_offset.unwrap_or(data_at)
            } else {
                value
            };
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(1u32.to_le_bytes());
            if kind == 3 {
                out.extend((value as u16).to_le_bytes());
                out.extend([0, 0]);
            } else {
                out.extend(value.to_le_bytes());
            }
        }
        out.extend(next.to_le_bytes());
        out.extend(p.data);
    }
    out
}

/// A TIFF whose first directory names itself as the next one: a reader that
/// follows the chain blindly never ends.
pub fn looping_tiff(width: u32, height: u32, data: &[u8]) -> Vec<u8> {
    let mut out = tiff(&[gray_page(width, height, data)]);
    // The next-directory offset is the last 4 bytes of the directory.
    let at = 8 + 2 + 12 * 9;
    out[at..at + 4].copy_from_slice(&8u32.to_le_bytes());
    out
}

/// Appends a PNG chunk with its CRC.
pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let mut c = kind.to_vec();
    c.extend(data);
    out.extend(&c);
    out.extend(crc32(&c).to_be_bytes());
}

/// A PNG from raw scanlines (filter bytes added here), stored uncompressed in
/// its zlib stream: any bit depth and colour type, with an optional palette
/// and transparency chunk.
pub fn png(
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
    plte: Option<&[u8]>,
    trns: Option<&[u8]>,
    rows: &[u8],
) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([bit_depth, color_type, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    if let Some(p) = plte {
        png_chunk(&mut out, b"PLTE", p);
    }
    if let Some(t) = trns {
        png_chunk(&mut out, b"tRNS", t);
    }
    let row_len = if height == 0 {
        0
    } else {
        rows.len() / height as usize
    };
    let mut raw = Vec::with_capacity(rows.len() + height as usize);
    for row in rows.chunks(row_len.max(1)).take(height as usize) {
        raw.push(0);
        raw.extend(row);
    }
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG whose header says `width` x `height` but whose data is one tiny
/// zlib stream (a decompression bomb's header, or a zero size).
pub fn lying_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, b) in blocks.iter().enumerate() {
        out.push((i + 1 == blocks.len()) as u8);
        let len = b.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(*b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &v in data {
        a = (a + v as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Packs one-byte-a-pixel grey rows (0 black) into 1-bit rows, 1 = white
/// (as PNG and a BlackIsZero TIFF store them).
pub fn pack_bits(gray: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for row in gray.chunks(width) {
        for byte in row.chunks(8) {
            let mut b = 0u8;
            for (i, &v) in byte.iter().enumerate() {
                if v >= 128 {
                    b |= 0x80 >> i;
                }
            }
            out.push(b);
        }
    }
    out
}

/// `data` with bit `bit` of every `every`-th byte from `from` flipped.
pub fn flip_bits(data: &[u8], from: usize, every: usize, bit: u8) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut i = from;
    while i < out.len() {
        out[i] ^= 1 << (bit % 8);
        i = match i.checked_add(every.max(1)) {
            Some(next) => next,
            None => break,
        };
    }
    out
}
