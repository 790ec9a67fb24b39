//! Writing PDFs a page at a time.
//!
//! pdf-writer builds each object; we stream them to the output and write the
//! cross-reference table ourselves, so a document of thousands of pages never has
//! more than one page image in memory. Each page image is embedded as encoded
//! (DCTDecode for JPEG, CCITTFaxDecode for G4): no re-compression, no loss.
//! Every PDF written here is PDF/A-1b (see `pdfa`): the pages' DeviceRGB and
//! DeviceGray images sit under an sRGB output intent.

use super::ImagingError;
use super::pdf_font::{self, Face};
use super::pdfa::{self, Meta, Profile};
use crate::pixels::{Encoded, Encoding, PixelKind};
use pdf_writer::Str;
use pdf_writer::types::TextRenderingMode;
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref};
use std::collections::BTreeMap;
use std::io::Write;
use subsetter::GlyphRemapper;
use time::OffsetDateTime;

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const XMP: Ref = Ref::new(4);
const ICC: Ref = Ref::new(5);
/// Intermediate page tree nodes (if any) follow, then the pages.
const FIRST_FREE_OBJ: i32 = 6;
const OBJS_PER_PAGE: i32 = 3;
/// The text layer's font resource name.
const TEXT_FONT: Name<'static> = Name(b"F1");

/// PDF/A-1 arrays hold at most 8191 entries: past that many pages, the pages
/// hang in groups of this many under intermediate page tree nodes.
const PAGES_PER_NODE: i32 = 4096;
const MAX_KIDS: i32 = 8191;
/// PDF/A-1 allows 8,388,607 indirect objects: three a page, and a few more.
const MAX_PAGES: usize = 2_700_000;

/// A word of text on a page image (recognised by OCR): what it says and its
/// box, pixels from the image's top left (x, y, width, height).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Word {
    pub text: String,
    pub bbox: [u32; 4],
}

/// The invisible text layer's font: DejaVu Sans, a subset of the glyphs the
/// words use, written after the last page.
struct TextFont {
    face: Face,
    used: BTreeMap<u16, char>,
    remap: GlyphRemapper,
}

/// What a document PDF says about itself (Info and XMP alike).
pub struct DocMeta<'a> {
    /// E.g. "referral 6f1c…": no patient identifier.
    pub title: &'a str,
    /// A patient-free description, e.g. "Scanned paper health record".
    pub subject: &'a str,
    /// When the document was made, kept fixed so a rebuilt PDF is the same.
    pub created: OffsetDateTime,
}

/// Counts bytes written so object offsets are known without seeking.
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

/// A PDF/A-1b document being written to `W`, page by page. `finish` must be
/// called.
pub struct PdfStream<W: Write> {
    out: Counting<W>,
    offsets: Vec<u64>,
    page_count: i32,
    nodes: i32,
    written: i32,
    text: TextFont,
}

impl<W: Write> PdfStream<W> {
    /// Starts a PDF that will hold exactly `page_count` pages.
    pub fn start(out: W, page_count: usize, meta: &DocMeta<'_>) -> Result<Self, ImagingError> {
        let page_count = i32::try_from(page_count)
            .ok()
            .filter(|_| page_count <= MAX_PAGES)
            .ok_or_else(|| ImagingError::Encode("too many pages for one PDF".into()))?;
        let nodes = if page_count > MAX_KIDS {
            (page_count + PAGES_PER_NODE - 1) / PAGES_PER_NODE
        } else {
            0
        };
        let tool = format!("Folio {}", env!("CARGO_PKG_VERSION"));
        let meta = Meta::new(meta.title, meta.subject, "", &tool, meta.created)
            .map_err(|e| ImagingError::Encode(e.to_string()))?;
        let mut s = PdfStream {
            out: Counting { inner: out, pos: 0 },
            offsets: Vec::new(),
            page_count,
            nodes,
            written: 0,
            text: TextFont {
                face: Face::load("DejaVuSans", dejavu::sans::regular())
                    .map_err(|e| ImagingError::Encode(e.to_string()))?,
                used: BTreeMap::new(),
                remap: GlyphRemapper::new(),
            },
        };
        // PDF/A-1 is PDF 1.4; the comment's bytes above 127 mark it binary.
        s.out.put(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")?;
        let mut c = Chunk::new();
        let mut cat = c.indirect(CATALOG).start::<Catalog>();
        cat.pages(PAGES);
        pdfa::catalog_entries(&mut cat, XMP, ICC, Profile::Srgb);
        cat.finish();
        s.object(c)?;
        let mut c = Chunk::new();
        let kids: Vec<Ref> = if nodes > 0 {
            (0..nodes).map(node_ref).collect()
        } else {
            (0..page_count).map(|i| s.page_ref(i)).collect()
        };
        c.pages(PAGES).kids(kids).count(page_count);
        s.object(c)?;
        let mut c = Chunk::new();
        pdfa::fill_info(&mut c.indirect(INFO).start::<DocumentInfo>(), &meta);
        s.object(c)?;
        let mut c = Chunk::new();
        pdfa::write_xmp(&mut c, XMP, &meta);
        s.object(c)?;
        let mut c = Chunk::new();
        pdfa::write_icc(&mut c, ICC, Profile::Srgb);
        s.object(c)?;
        for n in 0..nodes {
            let first = n * PAGES_PER_NODE;
            let last = (first + PAGES_PER_NODE).min(page_count);
            let mut c = Chunk::new();
            c.pages(node_ref(n))
                .parent(PAGES)
                .kids((first..last).map(|i| s.page_ref(i)))
                .count(last - first);
            s.object(c)?;
        }
        Ok(s)
    }

    /// The text layer's Type0 font, after the last page's objects.
    fn font_ref(&self) -> Ref {
        self.page_ref(self.page_count)
    }

    fn page_ref(&self, i: i32) -> Ref {
        Ref::new(FIRST_FREE_OBJ + self.nodes + i * OBJS_PER_PAGE)
    }

    fn parent_of(&self, i: i32) -> Ref {
        if self.nodes > 0 {
            node_ref(i / PAGES_PER_NODE)
        } else {
            PAGES
        }
    }

    fn object(&mut self, chunk: Chunk) -> std::io::Result<()> {
        self.offsets.push(self.out.pos);
        self.out.put(chunk.as_bytes())
    }

    /// Adds the next page, sized from the image's pixels and resolution.
    pub fn add_page(&mut self, img: &Encoded) -> Result<(), ImagingError> {
        self.add_page_with_text(img, &[])
    }

    /// Adds the next page with `words` as invisible text over the image
    /// (render mode 3: a reader searches and copies it, nobody sees it),
    /// each word set on its box: its height the font size, its width by
    /// horizontal scaling.
    pub fn add_page_with_text(
        &mut self,
        img: &Encoded,
        words: &[Word],
    ) -> Result<(), ImagingError> {
        if self.written >= self.page_count {
            return Err(ImagingError::Encode("more pages than announced".into()));
        }
        let page = self.page_ref(self.written);
        let content_id = Ref::new(page.get() + 1);
        let image_id = Ref::new(page.get() + 2);
        let dpi = img.dpi.max(1) as f32;
        let (w_pt, h_pt) = (
            img.width as f32 * 72.0 / dpi,
            img.height as f32 * 72.0 / dpi,
        );
        let name = Name(b"Im1");

        let mut c = Chunk::new();
        let mut p = c.page(page);
        p.parent(self.parent_of(self.written))
            .media_box(Rect::new(0.0, 0.0, w_pt, h_pt))
            .contents(content_id);
        let mut resources = p.resources();
        resources.x_objects().pair(name, image_id);
        if !words.is_empty() {
            resources.fonts().pair(TEXT_FONT, self.font_ref());
        }
        resources.finish();
        p.finish();
        self.object(c)?;

        let mut content = Content::new();
        content.save_state();
        content.transform([w_pt, 0.0, 0.0, h_pt, 0.0, 0.0]);
        content.x_object(name);
        content.restore_state();
        self.text_layer(&mut content, words, 72.0 / dpi, h_pt);
        let data = content.finish();
        let mut c = Chunk::new();
        c.stream(content_id, &data);
        self.object(c)?;

        let mut c = Chunk::new();
        let mut x = c.image_xobject(image_id, &img.bytes);
        x.width(img.width as i32).height(img.height as i32);
        match img.encoding {
            Encoding::Jpeg => {
                x.filter(Filter::DctDecode);
                x.bits_per_component(8);
                if img.kind == PixelKind::Color {
                    x.color_space().device_rgb();
                } else {
                    x.color_space().device_gray();
                }
            }
            Encoding::G4 => {
                x.filter(Filter::CcittFaxDecode);
                x.bits_per_component(1);
                x.color_space().device_gray();
                x.decode_parms()
                    .k(-1)
                    .columns(img.width as i32)
                    .rows(img.height as i32)
                    .black_is_1(false);
            }
        }
        x.finish();
        self.object(c)?;
        self.written += 1;
        Ok(())
    }

    /// The words, invisible, in the page's content (points per pixel
    /// `scale`, page height `h_pt`).
    fn text_layer(&mut self, content: &mut Content, words: &[Word], scale: f32, h_pt: f32) {
        if words.is_empty() {
            return;
        }
        content.begin_text();
        content.set_text_rendering_mode(TextRenderingMode::Invisible);
        for w in words {
            let text = pdfa::clean_line(&w.text);
            let glyphs: Vec<(u16, char)> = self.text.face.glyphs(text.trim()).collect();
            let [x, y, bw, bh] = w.bbox.map(|v| v as f32 * scale);
            if glyphs.is_empty() || bw <= 0.0 || bh <= 0.0 {
                continue;
            }
            let size = bh.max(1.0);
            let natural: f32 = glyphs
                .iter()
                .map(|&(g, _)| self.text.face.advance(g, size))
                .sum();
            let mut bytes = Vec::with_capacity(glyphs.len() * 2);
            for &(g, c) in &glyphs {
                self.text.used.entry(g).or_insert(c);
                bytes.extend_from_slice(&self.text.remap.remap(g).to_be_bytes());
            }
            content.set_font(TEXT_FONT, size);
            content.set_horizontal_scaling(if natural > 0.0 {
                100.0 * bw / natural
            } else {
                100.0
            });
            // Baseline a fifth of the box above its bottom (descenders).
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, h_pt - y - bh + 0.2 * bh]);
            content.show(Str(&bytes));
        }
        content.end_text();
    }

    /// Writes the cross-reference table and trailer; returns the writer.
    pub fn finish(mut self, file_id: &[u8; 16]) -> Result<W, ImagingError> {
        if self.written != self.page_count {
            return Err(ImagingError::Encode(format!(
                "PDF announced {} pages but got {}",
                self.page_count, self.written
            )));
        }
        let text = std::mem::replace(&mut self.text.remap, GlyphRemapper::new());
        let used = std::mem::take(&mut self.text.used);
        let mut chunks = Vec::new();
        pdf_font::embed(&self.text.face, &used, text, self.font_ref(), &mut |c| {
            chunks.push(c)
        })
        .map_err(|e| ImagingError::Encode(e.to_string()))?;
        for c in chunks {
            self.object(c)?;
        }
        let xref_at = self.out.pos;
        let mut t = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for o in &self.offsets {
            t.push_str(&format!("{o:010} 00000 n \n"));
        }
        let id = hex::encode(file_id);
        t.push_str(&format!(
            "trailer\n<< /Size {} /Root {} 0 R /Info {} 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref_at}\n%%EOF\n",
            self.offsets.len() + 1,
            CATALOG.get(),
            INFO.get()
        ));
        self.out.put(t.as_bytes())?;
        Ok(self.out.inner)
    }
}

fn node_ref(n: i32) -> Ref {
    Ref::new(FIRST_FREE_OBJ + n)
}
