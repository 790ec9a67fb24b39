//! Embedding a TrueType face in a PDF as PDF/A wants it: a subset
//! (`subsetter`) in a Type0 font (CIDFontType2, Identity-H, a `/W` widths
//! array, a `/CIDSet` and a ToUnicode CMap, so any Unicode text shows and can
//! be copied or searched). Shared by the text reports (`report_pdf`) and the
//! invisible text layer of scanned pages (`pdf`).

use ab_glyph::{Font, FontRef, GlyphId};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Name, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subsetter::GlyphRemapper;

/// A font that could not be used: its name and why.
#[derive(Debug, thiserror::Error)]
#[error("the embedded font {0} could not be used: {1}")]
pub struct FontError(pub &'static str, pub String);

pub fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// One embedded face: its bytes, parsed tables and metrics.
pub struct Face {
    pub name: &'static str,
    pub data: &'static [u8],
    pub font: FontRef<'static>,
    pub upem: f32,
    /// Glyph (and the text it stands for) drawn for characters the font lacks.
    missing: (u16, char),
}

impl Face {
    pub fn load(name: &'static str, data: &'static [u8]) -> Result<Face, FontError> {
        let font = FontRef::try_from_slice(data).map_err(|e| FontError(name, e.to_string()))?;
        let upem = font
            .units_per_em()
            .ok_or_else(|| FontError(name, "no units per em".into()))?;
        let fffd = font.glyph_id('\u{FFFD}').0;
        let missing = if fffd != 0 {
            (fffd, '\u{FFFD}')
        } else {
            (font.glyph_id('?').0, '?')
        };
        Ok(Face {
            name,
            data,
            font,
            upem,
            missing,
        })
    }

    /// The glyph for each character, and the character it will extract as.
    pub fn glyphs<'s>(&'s self, s: &'s str) -> impl Iterator<Item = (u16, char)> + 's {
        s.chars().map(|c| match self.font.glyph_id(c).0 {
            0 => self.missing,
            g => (g, c),
        })
    }

    pub fn advance(&self, gid: u16, size: f32) -> f32 {
        self.font.h_advance_unscaled(GlyphId(gid)) * size / self.upem
    }

    pub fn width(&self, s: &str, size: f32) -> f32 {
        self.glyphs(s).map(|(g, _)| self.advance(g, size)).sum()
    }

    /// Font units to the 1000-unit glyph space of PDF font dictionaries.
    pub fn to_pdf(&self, v: f32) -> f32 {
        v * 1000.0 / self.upem
    }
}

/// A font written into the PDF: its Type0 dictionary and old → new glyph ids.
pub struct Embedded {
    pub font: Ref,
    pub remap: GlyphRemapper,
}

/// The glyphs of `used` numbered in order of their ids in the face.
pub fn remapper(used: &BTreeMap<u16, char>) -> GlyphRemapper {
    let mut remap = GlyphRemapper::new();
    for &g in used.keys() {
        remap.remap(g);
    }
    remap
}

/// Objects a font takes: [`embed`] numbers them from its `first`.
pub const FONT_OBJECTS: i32 = 6;

/// Writes a subset of `face` with the glyphs in `used` (nothing if none) as
/// six objects numbered from `first`, each in its own chunk given to `out`
/// in increasing order (so a writer streaming objects can note each offset).
///
/// `remap` numbers the glyphs in the subset: [`remapper`] of `used`, or one
/// a writer filled as it met the glyphs (page contents written before the
/// font must already use the new numbers).
pub fn embed(
    face: &Face,
    used: &BTreeMap<u16, char>,
    remap: GlyphRemapper,
    first: Ref,
    out: &mut dyn FnMut(Chunk),
) -> Result<Option<Embedded>, FontError> {
    if used.is_empty() {
        return Ok(None);
    }
    let subset =
        subsetter::subset(face.data, 0, &remap).map_err(|e| FontError(face.name, e.to_string()))?;
    let parsed =
        FontRef::try_from_slice(&subset).map_err(|e| FontError(face.name, e.to_string()))?;
    let count = u16::try_from(parsed.glyph_count())
        .map_err(|_| FontError(face.name, "too many glyphs".into()))?;
    let sub_upem = parsed.units_per_em().unwrap_or(face.upem);
    let widths: Vec<f32> = (0..count)
        .map(|g| parsed.h_advance_unscaled(GlyphId(g)) * 1000.0 / sub_upem)
        .collect();
    let base = format!("{}+{}", subset_tag(face.name, used), face.name);
    let refs = FontRefs {
        type0: first,
        cid: Ref::new(first.get() + 1),
        descriptor: Ref::new(first.get() + 2),
        file: Ref::new(first.get() + 3),
        to_unicode: Ref::new(first.get() + 4),
        cid_set: Ref::new(first.get() + 5),
    };
    let name = Name(base.as_bytes());
    let mut c = Chunk::new();
    c.type0_font(refs.type0)
        .base_font(name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(refs.cid)
        .to_unicode(refs.to_unicode);
    out(c);
    let mut c = Chunk::new();
    let mut cid = c.cid_font(refs.cid);
    cid.subtype(CidFontType::Type2)
        .base_font(name)
        .system_info(identity_info())
        .font_descriptor(refs.descriptor)
        .default_width(widths.first().copied().unwrap_or(1000.0));
    cid.widths().consecutive(0, widths);
    cid.cid_to_gid_map_predefined(Name(b"Identity"));
    drop(cid);
    out(c);
    out(descriptor(face, name, &refs));
    write_font_streams(out, &refs, &subset, count, used, &remap);
    Ok(Some(Embedded {
        font: refs.type0,
        remap,
    }))
}

struct FontRefs {
    type0: Ref,
    cid: Ref,
    descriptor: Ref,
    file: Ref,
    to_unicode: Ref,
    cid_set: Ref,
}

fn identity_info() -> SystemInfo<'static> {
    SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    }
}

/// Six capital letters naming the subset, from the font and glyphs in it.
fn subset_tag(name: &str, used: &BTreeMap<u16, char>) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    for g in used.keys() {
        h.update(g.to_be_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

fn descriptor(face: &Face, name: Name<'_>, refs: &FontRefs) -> Chunk {
    let m = SfntMetrics::read(face);
    let mut c = Chunk::new();
    c.font_descriptor(refs.descriptor)
        .name(name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(m.bbox)
        .italic_angle(0.0)
        .ascent(face.to_pdf(face.font.ascent_unscaled()))
        .descent(face.to_pdf(face.font.descent_unscaled()))
        .cap_height(m.cap_height)
        .stem_v(10.0 + 0.244 * (m.weight - 50.0))
        .font_file2(refs.file)
        .cid_set(refs.cid_set);
    c
}

/// The font file, the ToUnicode CMap and the CIDSet, in that (object) order.
fn write_font_streams(
    out: &mut dyn FnMut(Chunk),
    refs: &FontRefs,
    subset: &[u8],
    count: u16,
    used: &BTreeMap<u16, char>,
    remap: &GlyphRemapper,
) {
    let file = deflate(subset);
    let length1 = i32::try_from(subset.len()).unwrap_or(i32::MAX);
    let mut c = Chunk::new();
    c.stream(refs.file, &file)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), length1);
    out(c);

    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"UCS"),
        supplement: 0,
    };
    let mut cmap = UnicodeCmap::<u16>::new(Name(b"Adobe-Identity-UCS"), info);
    for (&old, &c) in used {
        if let Some(new) = remap.get(old) {
            cmap.pair(new, c);
        }
    }
    let cmap = deflate(cmap.finish().as_slice());
    let mut c = Chunk::new();
    c.cmap(refs.to_unicode, &cmap).filter(Filter::FlateDecode);
    out(c);

    // Every glyph in the subset (the closure may have added components).
    let count = usize::from(count);
    let mut bits = vec![0u8; count.div_ceil(8)];
    for cid in 0..count {
        bits[cid / 8] |= 0x80 >> (cid % 8);
    }
    let bits = deflate(&bits);
    let mut c = Chunk::new();
    c.stream(refs.cid_set, &bits).filter(Filter::FlateDecode);
    out(c);
}

/// Font descriptor values read from the sfnt tables, in PDF glyph units.
struct SfntMetrics {
    bbox: Rect,
    cap_height: f32,
    weight: f32,
}

impl SfntMetrics {
    fn read(face: &Face) -> SfntMetrics {
        let head = sfnt_table(face.data, b"head");
        let os2 = sfnt_table(face.data, b"OS/2");
        let at = |t: Option<&[u8]>, i: usize| t.and_then(|t| be_i16(t, i)).map(f32::from);
        let ascent = face.to_pdf(face.font.ascent_unscaled());
        let bbox = match (at(head, 36), at(head, 38), at(head, 40), at(head, 42)) {
            (Some(x0), Some(y0), Some(x1), Some(y1)) => Rect::new(
                face.to_pdf(x0),
                face.to_pdf(y0),
                face.to_pdf(x1),
                face.to_pdf(y1),
            ),
            _ => Rect::new(
                0.0,
                face.to_pdf(face.font.descent_unscaled()),
                1000.0,
                ascent,
            ),
        };
        let version = at(os2, 0).unwrap_or(0.0);
        let cap_height = match at(os2, 88) {
            Some(c) if version >= 2.0 => face.to_pdf(c),
            _ => ascent * 0.7,
        };
        let weight = os2
            .and_then(|t| t.get(4..6))
            .map_or(400.0, |b| f32::from(u16::from_be_bytes([b[0], b[1]])));
        SfntMetrics {
            bbox,
            cap_height,
            weight,
        }
    }
}

fn be_i16(data: &[u8], at: usize) -> Option<i16> {
    let b = data.get(at..at + 2)?;
    Some(i16::from_be_bytes([b[0], b[1]]))
}

fn be_u32(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 4)?;
    usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// A table of an sfnt (TrueType) font by its tag.
fn sfnt_table<'d>(data: &'d [u8], tag: &[u8; 4]) -> Option<&'d [u8]> {
    let count = usize::from(u16::from_be_bytes([*data.get(4)?, *data.get(5)?]));
    (0..count).find_map(|i| {
        let rec = 12 + 16 * i;
        if data.get(rec..rec + 4)? != tag {
            return None;
        }
        let offset = be_u32(data, rec + 8)?;
        let len = be_u32(data, rec + 12)?;
        data.get(offset..offset.checked_add(len)?)
    })
}
