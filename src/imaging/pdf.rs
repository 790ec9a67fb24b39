//! Writing PDFs a page at a time.
//!
//! pdf-writer builds each object; we stream them to the output and write the
//! cross-reference table ourselves, so a document of thousands of pages never has
//! more than one page image in memory. Each page image is embedded as encoded
//! (DCTDecode for JPEG, CCITTFaxDecode for G4): no re-compression, no loss.

use super::ImagingError;
use crate::pixels::{Encoded, Encoding, PixelKind};
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref};
use std::io::Write;

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const FIRST_PAGE_OBJ: i32 = 4;
const OBJS_PER_PAGE: i32 = 3;

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

/// A PDF being written to `W`, page by page. `finish` must be called.
pub struct PdfStream<W: Write> {
    out: Counting<W>,
    offsets: Vec<u64>,
    page_count: i32,
    written: i32,
}

fn page_ref(i: i32) -> Ref {
    Ref::new(FIRST_PAGE_OBJ + i * OBJS_PER_PAGE)
}

impl<W: Write> PdfStream<W> {
    /// Starts a PDF that will hold exactly `page_count` pages.
    pub fn start(out: W, page_count: usize, title: &str) -> Result<Self, ImagingError> {
        let page_count = i32::try_from(page_count)
            .map_err(|_| ImagingError::Encode("too many pages for one PDF".into()))?;
        let mut s = PdfStream {
            out: Counting { inner: out, pos: 0 },
            offsets: Vec::new(),
            page_count,
            written: 0,
        };
        s.out.put(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        let mut c = Chunk::new();
        c.indirect(CATALOG).start::<Catalog>().pages(PAGES);
        s.object(c)?;
        let mut c = Chunk::new();
        c.pages(PAGES)
            .kids((0..page_count).map(page_ref))
            .count(page_count);
        s.object(c)?;
        let mut c = Chunk::new();
        c.indirect(INFO)
            .start::<DocumentInfo>()
            .producer(pdf_writer::TextStr("Folio"))
            .title(pdf_writer::TextStr(title));
        s.object(c)?;
        Ok(s)
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
        let page = page_ref(self.written);
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
        p.parent(PAGES)
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
