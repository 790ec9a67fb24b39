//! Writing PDFs a page at a time.
//!
//! pdf-writer builds each object; we stream them to the output and write the
//! cross-reference table ourselves, so a document of thousands of pages never has
//! more than one page image in memory. Each page image is embedded as encoded
//! (DCTDecode for JPEG, CCITTFaxDecode for G4): no re-compression, no loss.
//! Every PDF written here is PDF/A-1b (see `pdfa`): the pages' DeviceRGB and
//! DeviceGray images sit under an sRGB output intent.

use super::ImagingError;
use super::pdfa::{self, Meta, Profile};
use crate::pixels::{Encoded, Encoding, PixelKind};
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref};
use std::io::Write;
use time::OffsetDateTime;

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const XMP: Ref = Ref::new(4);
const ICC: Ref = Ref::new(5);
/// Intermediate page tree nodes (if any) follow, then the pages.
const FIRST_FREE_OBJ: i32 = 6;
const OBJS_PER_PAGE: i32 = 3;

/// PDF/A-1 arrays hold at most 8191 entries: past that many pages, the pages
/// hang in groups of this many under intermediate page tree nodes.
const PAGES_PER_NODE: i32 = 4096;
const MAX_KIDS: i32 = 8191;
/// PDF/A-1 allows 8,388,607 indirect objects: three a page, and a few more.
const MAX_PAGES: usize = 2_700_000;

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
        p.resources().x_objects().pair(name, image_id);
        p.finish();
        self.object(c)?;

        let mut content = Content::new();
        content.save_state();
        content.transform([w_pt, 0.0, 0.0, h_pt, 0.0, 0.0]);
        content.x_object(name);
        content.restore_state();
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

    /// Writes the cross-reference table and trailer; returns the writer.
    pub fn finish(mut self, file_id: &[u8; 16]) -> Result<W, ImagingError> {
        if self.written != self.page_count {
            return Err(ImagingError::Encode(format!(
                "PDF announced {} pages but got {}",
                self.page_count, self.written
            )));
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
