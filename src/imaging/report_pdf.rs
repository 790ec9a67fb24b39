//! Text reports as PDF/A-1b: the destruction certificate a records manager
//! signs, and any other document that is words, label/value fields, tables and
//! signature lines rather than page images.
//!
//! Hand-written on `pdf-writer` because no well-kept crate in the tree writes a
//! PDF/A text document: `pdf-writer` builds the objects, DejaVu Sans (from the
//! `dejavu` crate) is embedded as a subset (`subsetter`) in a Type0 font
//! (CIDFontType2, Identity-H, a `/W` widths array, a `/CIDSet` and a ToUnicode
//! CMap, so any Unicode text shows and can be copied or searched), lines are
//! broken by the font's real advance widths (`ab_glyph`), and pagination, the
//! repeated table header and the "page n of m" footer are done here.
//!
//! What makes it PDF/A-1b: a 1.4 header with a binary comment, a classic xref
//! table, an uncompressed XMP packet matching the Info dictionary, a trailer
//! `/ID`, no transparency, and a `GTS_PDFA1` output intent carrying a small
//! greyscale ICC profile built in code (all drawing is DeviceGray). The same
//! input always gives the same bytes: no clock, no random numbers, no hash map
//! iteration order reaches the output.
//!
//! Text from outside (names, identifiers) is cleaned first: line breaks become
//! line breaks, tabs spaces, and every other control character (and the
//! invisible bidirectional overrides) a visible U+FFFD, so nothing is written
//! raw and nothing can reorder what a reader sees.

use super::pdf_font::{self, Embedded, Face, deflate};
use super::pdfa::{self, Meta, Profile, clean, clean_line};
use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A document to write: metadata, a footer and the blocks of the body.
pub struct Report<'a> {
    /// Info /Title and XMP dc:title, shown as the heading of page 1.
    pub title: &'a str,
    /// Info /Subject and XMP dc:description.
    pub subject: &'a str,
    /// Info /Author and XMP dc:creator.
    pub author: &'a str,
    /// E.g. "Folio 0.1.0": Info /Creator and /Producer, XMP xmp:CreatorTool
    /// and pdf:Producer.
    pub creator_tool: &'a str,
    /// Info /CreationDate and /ModDate, XMP xmp:CreateDate and xmp:ModifyDate
    /// (whole seconds).
    pub created: OffsetDateTime,
    /// Small text at the bottom of every page, followed by "page n of m".
    pub footer: &'a str,
    pub blocks: &'a [Block],
}

/// One part of the body, laid out top to bottom.
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// Label/value pairs: labels bold in a narrower column.
    Fields(Vec<(String, String)>),
    /// Column widths are fractions of the text width (scaled to sum to 1).
    /// The header row is repeated on each page the table continues onto; a
    /// row is only split across pages if it is taller than a page.
    Table {
        widths: Vec<f32>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A signature line: "label ____________  Date ______".
    Signature(String),
}

/// Writes a subset of `face` with the glyphs in `used` (nothing if none).
fn embed_font(
    doc: &mut Doc,
    face: &Face,
    used: &BTreeMap<u16, char>,
) -> Result<Option<Embedded>, ReportError> {
    let first = Ref::new(doc.next + 1);
    let remap = pdf_font::remapper(used);
    let embedded = pdf_font::embed(face, used, remap, first, &mut |c| doc.pdf.extend(&c))?;
    if embedded.is_some() {
        doc.next += pdf_font::FONT_OBJECTS;
    }
    Ok(embedded)
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Font(#[from] pdf_font::FontError),
    #[error("a table has {widths} column widths but a header or row of {cells} cells")]
    TableShape { widths: usize, cells: usize },
    #[error("a table's column widths must be positive numbers, got {0:?}")]
    TableWidths(Vec<f32>),
    #[error("the report date's year {0} cannot be written in a PDF (0 to 9999)")]
    Year(i32),
    #[error("the report is too large for one PDF ({0} pages)")]
    TooLarge(usize),
}

/// Writes the report as a PDF/A-1b file and returns its bytes.
pub fn write(r: &Report<'_>) -> Result<Vec<u8>, ReportError> {
    let fonts = Fonts::load()?;
    let meta = Meta::new(r.title, r.subject, r.author, r.creator_tool, r.created)
        .map_err(|e| ReportError::Year(e.0))?;
    let pages = layout(r, &fonts)?;
    if pages.len() > MAX_PAGES {
        return Err(ReportError::TooLarge(pages.len()));
    }
    let mut doc = Doc {
        pdf: Pdf::new(),
        next: 0,
    };
    doc.pdf.set_version(1, 4);
    let catalog = doc.alloc();
    let tree = doc.alloc();
    let used = used_glyphs(&pages, &fonts);
    let embedded = [
        embed_font(&mut doc, &fonts.regular, &used[0])?,
        embed_font(&mut doc, &fonts.bold, &used[1])?,
    ];
    write_pages(&mut doc, tree, &pages, &fonts, &embedded);
    write_catalog(&mut doc, catalog, tree, &meta);
    let digest = Sha256::digest(doc.pdf.as_bytes());
    let id = digest[..16].to_vec();
    doc.pdf.set_file_id((id.clone(), id));
    Ok(doc.pdf.finish())
}

// ---------------------------------------------------------------------------
// Page geometry and type sizes (PDF points).

const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
/// 18 mm.
const MARGIN: f32 = 51.024;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - MARGIN;
const LEADING: f32 = 1.3;
const TITLE_SIZE: f32 = 16.0;
const HEADING_SIZE: f32 = 12.5;
const BODY_SIZE: f32 = 10.0;
const TABLE_SIZE: f32 = 9.0;
const FOOTER_SIZE: f32 = 8.0;
/// Space left above a signature line to sign in.
const SIGN_SPACE: f32 = 30.0;

/// Combining marks stay with the character before them when a word is broken.
fn is_combining(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

// ---------------------------------------------------------------------------
// Fonts.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Regular,
    Bold,
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn load() -> Result<Fonts, ReportError> {
        Ok(Fonts {
            regular: Face::load("DejaVuSans", dejavu::sans::regular())?,
            bold: Face::load("DejaVuSans-Bold", dejavu::sans::bold())?,
        })
    }

    fn get(&self, style: Style) -> &Face {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
        }
    }
}

// ---------------------------------------------------------------------------
// Line breaking.

/// Breaks cleaned text into lines no wider than `width`: at `\n`, between
/// words, and inside words (between characters) that are wider than a line.
/// Runs of spaces collapse; an empty input line stays an empty line.
fn wrap(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut out = Vec::new();
    for hard in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in hard.split(' ').filter(|w| !w.is_empty()) {
            let w = face.width(word, size);
            if !line.is_empty() && line_w + space + w <= width {
                line.push(' ');
                line.push_str(word);
                line_w += space + w;
                continue;
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            if w <= width {
                line.push_str(word);
                line_w = w;
            } else {
                line_w = break_word(face, word, size, width, &mut line, &mut out);
            }
        }
        out.push(line);
    }
    // Zero-width characters (combining marks) add nothing to a line's width:
    // cap its length so no text string grows past PDF/A's limits.
    out.into_iter()
        .flat_map(|line| {
            let chars: Vec<char> = line.chars().collect();
            if chars.len() <= MAX_LINE_CHARS {
                return vec![line];
            }
            chars
                .chunks(MAX_LINE_CHARS)
                .map(|c| c.iter().collect())
                .collect()
        })
        .collect()
}

/// More characters than any line of real text holds (about 200 at most).
const MAX_LINE_CHARS: usize = 1000;

/// Puts a too-long word into lines character by character (at least one
/// character per line); the last, partial line is left in `line` and its
/// width returned.
fn break_word(
    face: &Face,
    word: &str,
    size: f32,
    width: f32,
    line: &mut String,
    out: &mut Vec<String>,
) -> f32 {
    let mut line_w = 0.0;
    for c in word.chars() {
        let mut buf = [0u8; 4];
        let w = face.width(c.encode_utf8(&mut buf), size);
        if !line.is_empty() && line_w + w > width && !is_combining(c) {
            out.push(std::mem::take(line));
            line_w = 0.0;
        }
        line.push(c);
        line_w += w;
    }
    line_w
}

// ---------------------------------------------------------------------------
// Layout: blocks to drawing operations on pages.

enum Op {
    Text {
        style: Style,
        size: f32,
        x: f32,
        y: f32,
        text: String,
    },
    Line {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        gray: f32,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
}

/// Columns of a table or field list: where each cell's text starts, how wide
/// it may be, the type size and the space above and below a row's text.
struct Grid {
    xs: Vec<f32>,
    ws: Vec<f32>,
    size: f32,
    pad: f32,
    ruled: bool,
}

/// A row laid out in a grid: each cell's style and lines.
struct Row {
    cells: Vec<(Style, Vec<String>)>,
    /// A header row: shaded, with a rule above.
    header: bool,
}

impl Grid {
    /// Wraps each column's text (missing cells are empty); cell `i` is in
    /// `styles[i]`, or the last style given.
    fn row<S: AsRef<str>>(
        &self,
        fonts: &Fonts,
        styles: &[Style],
        texts: &[S],
        header: bool,
    ) -> Row {
        let cells = self
            .ws
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let style = styles
                    .get(i)
                    .or(styles.last())
                    .copied()
                    .unwrap_or(Style::Regular);
                let text = texts.get(i).map_or("", AsRef::as_ref);
                (style, wrap(fonts.get(style), &clean(text), self.size, w))
            })
            .collect();
        Row { cells, header }
    }

    fn leading(&self) -> f32 {
        self.size * LEADING
    }

    fn height(&self, lines: usize) -> f32 {
        lines as f32 * self.leading() + 2.0 * self.pad
    }
}

impl Row {
    fn lines(&self) -> usize {
        self.cells
            .iter()
            .map(|(_, l)| l.len())
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    /// Top of the next line.
    y: f32,
    /// Lowest point the body may reach (above the footer).
    bottom: f32,
    /// Nothing drawn on this page yet.
    fresh: bool,
    /// The page the current table's header was last drawn on.
    header_page: Option<usize>,
}

impl Layout<'_> {
    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
        self.fresh = false;
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        self.fresh = true;
    }

    /// Vertical space, dropped at the top of a page.
    fn gap(&mut self, h: f32) {
        if !self.fresh {
            self.y -= h;
        }
    }

    /// Starts a new page unless `h` more fits on this one.
    fn ensure(&mut self, h: f32) {
        if !self.fresh && self.y - h < self.bottom {
            self.new_page();
        }
    }

    fn text(&mut self, style: Style, size: f32, x: f32, top: f32, text: &str) {
        if !text.is_empty() {
            self.push(Op::Text {
                style,
                size,
                x,
                y: top - size,
                text: text.to_owned(),
            });
        }
    }

    fn rule(&mut self, y: f32, width: f32, gray: f32) {
        self.push(Op::Line {
            x1: MARGIN,
            x2: MARGIN + TEXT_W,
            y,
            width,
            gray,
        });
    }

    /// Lines at the left margin, each moved to a new page if it does not fit.
    fn lines(&mut self, lines: &[String], style: Style, size: f32) {
        let lh = size * LEADING;
        for line in lines {
            self.ensure(lh);
            self.text(style, size, MARGIN, self.y, line);
            self.y -= lh;
        }
    }

    fn title(&mut self, title: &str) {
        let lines = wrap(&self.fonts.bold, &clean(title), TITLE_SIZE, TEXT_W);
        self.lines(&lines, Style::Bold, TITLE_SIZE);
        self.y -= 4.0;
        self.rule(self.y, 0.8, 0.0);
        self.y -= 14.0;
    }

    /// A heading, kept on a page with the two lines after it.
    fn heading(&mut self, text: &str) {
        let lines = wrap(&self.fonts.bold, &clean(text), HEADING_SIZE, TEXT_W);
        self.gap(HEADING_SIZE * 0.8);
        let h = lines.len() as f32 * HEADING_SIZE * LEADING;
        self.ensure(h + 2.0 * BODY_SIZE * LEADING);
        self.lines(&lines, Style::Bold, HEADING_SIZE);
        self.y -= 3.0;
    }

    fn paragraph(&mut self, text: &str) {
        let lines = wrap(&self.fonts.regular, &clean(text), BODY_SIZE, TEXT_W);
        self.lines(&lines, Style::Regular, BODY_SIZE);
        self.y -= 6.0;
    }

    fn fields(&mut self, pairs: &[(String, String)]) {
        let bold = &self.fonts.bold;
        let widest = pairs
            .iter()
            .map(|(l, _)| bold.width(&clean_line(l), BODY_SIZE))
            .fold(0.0, f32::max);
        let label_w = (widest + 12.0).clamp(TEXT_W * 0.2, TEXT_W * 0.38);
        let grid = Grid {
            xs: vec![MARGIN, MARGIN + label_w],
            ws: vec![label_w - 10.0, TEXT_W - label_w],
            size: BODY_SIZE,
            pad: 1.5,
            ruled: false,
        };
        self.gap(2.0);
        for (label, value) in pairs {
            let row = grid.row(
                self.fonts,
                &[Style::Bold, Style::Regular],
                &[label, value],
                false,
            );
            self.place_row(&grid, &row, None);
        }
        self.y -= 8.0;
    }

    fn table(
        &mut self,
        widths: &[f32],
        header: &[String],
        rows: &[Vec<String>],
    ) -> Result<(), ReportError> {
        let grid = table_grid(widths, header, rows)?;
        let head = (!header.is_empty()).then(|| grid.row(self.fonts, &[Style::Bold], header, true));
        self.gap(4.0);
        self.header_page = None;
        for texts in rows {
            let row = grid.row(self.fonts, &[Style::Regular], texts, false);
            self.place_row(&grid, &row, head.as_ref());
        }
        // A table without rows still shows its header.
        if rows.is_empty()
            && let Some(h) = &head
        {
            let lines = h.lines();
            self.ensure(grid.height(lines));
            self.draw_row(&grid, h, 0, lines);
        }
        self.y -= 10.0;
        Ok(())
    }

    /// Places a row, after the header if this page does not have it yet.
    /// A row that fits on a page is never split; a taller one is split
    /// between lines, the header repeated on each page.
    fn place_row(&mut self, g: &Grid, row: &Row, header: Option<&Row>) {
        let total = row.lines();
        let head_h = header.map_or(0.0, |h| g.height(h.lines()));
        let mut from = 0;
        while from < total {
            let page = self.pages.len();
            let header_now = header.filter(|_| self.header_page != Some(page));
            let hh = header_now.map_or(0.0, |h| g.height(h.lines()));
            let rest = total - from;
            let room = self.y - hh - self.bottom;
            let fits_fresh = g.height(rest) <= TOP - self.bottom - head_h;
            if g.height(rest) > room && !self.fresh && (fits_fresh || room < g.height(1)) {
                self.new_page();
                continue;
            }
            let fit = ((room - 2.0 * g.pad) / g.leading()).floor().max(1.0) as usize;
            let n = rest.min(fit);
            if let Some(h) = header_now {
                self.draw_row(g, h, 0, h.lines());
                self.header_page = Some(page);
            }
            self.draw_row(g, row, from, from + n);
            from += n;
            if from < total {
                self.new_page();
            }
        }
    }

    /// Draws lines `from..to` of a row's cells at the current position.
    fn draw_row(&mut self, g: &Grid, row: &Row, from: usize, to: usize) {
        let h = g.height(to - from);
        let top = self.y;
        if row.header {
            self.push(Op::Fill {
                x: MARGIN,
                y: top - h,
                w: TEXT_W,
                h,
                gray: 0.88,
            });
            self.rule(top, 0.8, 0.0);
        }
        for ((style, lines), &x) in row.cells.iter().zip(&g.xs) {
            for (k, line) in lines.iter().enumerate().take(to).skip(from) {
                let line_top = top - g.pad - (k - from) as f32 * g.leading();
                self.text(*style, g.size, x, line_top, line);
            }
        }
        if g.ruled {
            let (width, gray) = if row.header { (0.8, 0.0) } else { (0.4, 0.55) };
            self.rule(top - h, width, gray);
        }
        self.y -= h;
    }

    /// "label ____________  Date ______", with room to sign above it.
    fn signature(&mut self, label: &str) {
        let face = &self.fonts.regular;
        let lines = wrap(face, &clean(label), BODY_SIZE, TEXT_W * 0.42);
        let label_w = lines
            .iter()
            .map(|l| face.width(l, BODY_SIZE))
            .fold(0.0, f32::max);
        let date_w = face.width("Date", BODY_SIZE);
        let lh = BODY_SIZE * LEADING;
        self.gap(6.0);
        self.ensure(SIGN_SPACE + lines.len() as f32 * lh);
        self.y -= SIGN_SPACE;
        for line in &lines {
            self.text(Style::Regular, BODY_SIZE, MARGIN, self.y, line);
            self.y -= lh;
        }
        let base = self.y + lh - BODY_SIZE - 1.5;
        let date_x = MARGIN + TEXT_W * 0.68;
        self.underline(MARGIN + label_w + 6.0, MARGIN + TEXT_W * 0.64, base);
        self.text(
            Style::Regular,
            BODY_SIZE,
            date_x,
            base + 1.5 + BODY_SIZE,
            "Date",
        );
        self.underline(date_x + date_w + 6.0, MARGIN + TEXT_W, base);
        self.y -= 8.0;
    }

    fn underline(&mut self, x1: f32, x2: f32, y: f32) {
        self.push(Op::Line {
            x1,
            x2,
            y,
            width: 0.6,
            gray: 0.0,
        });
    }
}

/// Column geometry of a table, after checking its shape.
fn table_grid(
    widths: &[f32],
    header: &[String],
    rows: &[Vec<String>],
) -> Result<Grid, ReportError> {
    let columns = widths.len();
    let widest = rows
        .iter()
        .map(Vec::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0);
    if (!header.is_empty() && header.len() != columns) || widest > columns {
        let cells = if header.len() != columns && !header.is_empty() {
            header.len()
        } else {
            widest
        };
        return Err(ReportError::TableShape {
            widths: columns,
            cells,
        });
    }
    if widths.iter().any(|w| !w.is_finite() || *w <= 0.0) {
        return Err(ReportError::TableWidths(widths.to_vec()));
    }
    let sum: f32 = widths.iter().sum();
    let mut xs = Vec::with_capacity(columns);
    let mut ws = Vec::with_capacity(columns);
    let mut left = MARGIN;
    for w in widths {
        let w = w / sum * TEXT_W;
        xs.push(left + 3.0);
        ws.push((w - 6.0).max(1.0));
        left += w;
    }
    Ok(Grid {
        xs,
        ws,
        size: TABLE_SIZE,
        pad: 2.5,
        ruled: true,
    })
}

/// Lays the report out and adds the footers.
fn layout(r: &Report<'_>, fonts: &Fonts) -> Result<Vec<Vec<Op>>, ReportError> {
    let footer = Footer::new(r.footer, fonts);
    let mut l = Layout {
        fonts,
        pages: vec![Vec::new()],
        y: TOP,
        bottom: MARGIN + footer.height() + 12.0,
        fresh: true,
        header_page: None,
    };
    if !r.title.trim().is_empty() {
        l.title(r.title);
    }
    for block in r.blocks {
        match block {
            Block::Heading(t) => l.heading(t),
            Block::Paragraph(t) => l.paragraph(t),
            Block::Fields(pairs) => l.fields(pairs),
            Block::Table {
                widths,
                header,
                rows,
            } => l.table(widths, header, rows)?,
            Block::Signature(label) => l.signature(label),
        }
    }
    let mut pages = l.pages;
    footer.apply(&mut pages, fonts);
    Ok(pages)
}

/// The footer text, wrapped beside room for "page n of m".
struct Footer {
    lines: Vec<String>,
}

impl Footer {
    fn new(text: &str, fonts: &Fonts) -> Footer {
        let number_w = fonts.regular.width("page 00000 of 00000", FOOTER_SIZE);
        let width = TEXT_W - number_w - 12.0;
        Footer {
            lines: wrap(&fonts.regular, &clean(text), FOOTER_SIZE, width),
        }
    }

    fn height(&self) -> f32 {
        self.lines.len().max(1) as f32 * FOOTER_SIZE * LEADING
    }

    fn apply(&self, pages: &mut [Vec<Op>], fonts: &Fonts) {
        let count = pages.len();
        let top = MARGIN + self.height();
        let lh = FOOTER_SIZE * LEADING;
        for (i, page) in pages.iter_mut().enumerate() {
            page.push(Op::Line {
                x1: MARGIN,
                x2: MARGIN + TEXT_W,
                y: top + 4.0,
                width: 0.4,
                gray: 0.4,
            });
            let mut y = top;
            for line in self.lines.iter().filter(|l| !l.is_empty()) {
                page.push(footer_text(MARGIN, y, line.clone()));
                y -= lh;
            }
            let number = format!("page {} of {count}", i + 1);
            let x = MARGIN + TEXT_W - fonts.regular.width(&number, FOOTER_SIZE);
            page.push(footer_text(x, top, number));
        }
    }
}

fn footer_text(x: f32, top: f32, text: String) -> Op {
    Op::Text {
        style: Style::Regular,
        size: FOOTER_SIZE,
        x,
        y: top - FOOTER_SIZE,
        text,
    }
}

// ---------------------------------------------------------------------------
// PDF objects.

struct Doc {
    pdf: Pdf,
    next: i32,
}

impl Doc {
    fn alloc(&mut self) -> Ref {
        self.next += 1;
        Ref::new(self.next)
    }
}

/// For each style, the glyphs drawn and the character each extracts as (the
/// first one met, in document order).
fn used_glyphs(pages: &[Vec<Op>], fonts: &Fonts) -> [BTreeMap<u16, char>; 2] {
    let mut used = [BTreeMap::new(), BTreeMap::new()];
    for op in pages.iter().flatten() {
        if let Op::Text { style, text, .. } = op {
            let map = &mut used[*style as usize];
            for (g, c) in fonts.get(*style).glyphs(text) {
                map.entry(g).or_insert(c);
            }
        }
    }
    used
}

/// PDF/A-1 allows 8,388,607 indirect objects: two a page, and a few more.
const MAX_PAGES: usize = 4_000_000;

/// PDF/A-1 arrays hold at most 8191 entries, so past that many pages they
/// hang in groups under intermediate page tree nodes.
const PAGES_PER_NODE: usize = 4096;

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Writes the pages and the page tree under `tree`.
fn write_pages(
    doc: &mut Doc,
    tree: Ref,
    pages: &[Vec<Op>],
    fonts: &Fonts,
    embedded: &[Option<Embedded>; 2],
) {
    let nodes: Vec<Ref> = if pages.len() > 8191 {
        (0..pages.len().div_ceil(PAGES_PER_NODE))
            .map(|_| doc.alloc())
            .collect()
    } else {
        Vec::new()
    };
    let mut refs = Vec::with_capacity(pages.len());
    for (i, ops) in pages.iter().enumerate() {
        let parent = nodes.get(i / PAGES_PER_NODE).copied().unwrap_or(tree);
        refs.push(write_page(doc, parent, ops, fonts, embedded));
    }
    if nodes.is_empty() {
        doc.pdf.pages(tree).kids(refs).count(count(pages.len()));
        return;
    }
    for (&node, kids) in nodes.iter().zip(refs.chunks(PAGES_PER_NODE)) {
        doc.pdf
            .pages(node)
            .parent(tree)
            .kids(kids.iter().copied())
            .count(count(kids.len()));
    }
    doc.pdf.pages(tree).kids(nodes).count(count(pages.len()));
}

fn write_page(
    doc: &mut Doc,
    parent: Ref,
    ops: &[Op],
    fonts: &Fonts,
    embedded: &[Option<Embedded>; 2],
) -> Ref {
    let page_ref = doc.alloc();
    let content_ref = doc.alloc();
    let content = deflate(&content(ops, fonts, embedded));
    doc.pdf
        .stream(content_ref, &content)
        .filter(Filter::FlateDecode);
    let mut page = doc.pdf.page(page_ref);
    page.parent(parent)
        .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
        .contents(content_ref);
    let mut resources = page.resources();
    let mut dict = resources.fonts();
    for (style, e) in [Style::Regular, Style::Bold].into_iter().zip(embedded) {
        if let Some(e) = e {
            dict.pair(font_name(style), e.font);
        }
    }
    page_ref
}

fn font_name(style: Style) -> Name<'static> {
    match style {
        Style::Regular => Name(b"F1"),
        Style::Bold => Name(b"F2"),
    }
}

/// A page's content stream: shapes outside text objects, text in DeviceGray
/// black, each line positioned with its own text matrix.
fn content(ops: &[Op], fonts: &Fonts, embedded: &[Option<Embedded>; 2]) -> Vec<u8> {
    let mut c = Content::new();
    let mut in_text = false;
    let mut font = None;
    for op in ops {
        match op {
            Op::Text {
                style,
                size,
                x,
                y,
                text,
            } => {
                let Some(e) = &embedded[*style as usize] else {
                    continue;
                };
                if !in_text {
                    c.begin_text();
                    c.set_fill_gray(0.0);
                    in_text = true;
                    font = None;
                }
                let mut bytes = Vec::with_capacity(text.len() * 2);
                for (g, _) in fonts.get(*style).glyphs(text) {
                    bytes.extend_from_slice(&e.remap.get(g).unwrap_or(0).to_be_bytes());
                }
                if font != Some((*style, *size)) {
                    c.set_font(font_name(*style), *size);
                    font = Some((*style, *size));
                }
                c.set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y]);
                c.show(Str(&bytes));
            }
            shape => {
                if in_text {
                    c.end_text();
                    in_text = false;
                }
                draw_shape(&mut c, shape);
            }
        }
    }
    if in_text {
        c.end_text();
    }
    c.finish().into_vec()
}

fn draw_shape(c: &mut Content, op: &Op) {
    match *op {
        Op::Line {
            x1,
            x2,
            y,
            width,
            gray,
        } => {
            c.set_stroke_gray(gray);
            c.set_line_width(width);
            c.move_to(x1, y);
            c.line_to(x2, y);
            c.stroke();
        }
        Op::Fill { x, y, w, h, gray } => {
            c.set_fill_gray(gray);
            c.rect(x, y, w, h);
            c.fill_nonzero();
        }
        Op::Text { .. } => {}
    }
}

// ---------------------------------------------------------------------------
// Metadata: Info dictionary, XMP and the grey output intent (see `pdfa`).

fn write_catalog(doc: &mut Doc, catalog: Ref, tree: Ref, meta: &Meta) {
    let info_ref = doc.alloc();
    let xmp_ref = doc.alloc();
    let icc_ref = doc.alloc();
    pdfa::fill_info(&mut doc.pdf.document_info(info_ref), meta);
    pdfa::write_xmp(&mut doc.pdf, xmp_ref, meta);
    pdfa::write_icc(&mut doc.pdf, icc_ref, Profile::Grey);
    let mut cat = doc.pdf.catalog(catalog);
    cat.pages(tree);
    pdfa::catalog_entries(&mut cat, xmp_ref, icc_ref, Profile::Grey);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;
    use time::UtcOffset;

    fn sample_blocks() -> Vec<Block> {
        let rows = (1..=300)
            .map(|i| {
                vec![
                    format!("Box {i:04}"),
                    format!("MRN-{:06}", i * 37),
                    format!("sha256:{}", hex::encode(Sha256::digest(format!("box {i}")))),
                    "Shredded on site — witnessed".to_owned(),
                ]
            })
            .collect();
        vec![
            Block::Heading("Records destroyed".into()),
            Block::Paragraph(
                "Records were reviewed by Siân O'Connor and Zoë Brontë — retention period expired… \
                 A bell\u{7}character and a bidi\u{202E}override must not come out raw."
                    .into(),
            ),
            Block::Fields(vec![
                ("Certificate".into(), "DC-2024-0042".into()),
                ("Records manager".into(), "Siân O'Connor".into()),
                ("Method".into(), "Cross-cut shredding, DIN 66399 P-4".into()),
            ]),
            Block::Table {
                widths: vec![0.15, 0.18, 0.42, 0.25],
                header: vec!["Box".into(), "MRN".into(), "Content hash".into(), "Outcome".into()],
                rows,
            },
            Block::Paragraph("I certify that the records listed above were destroyed.".into()),
            Block::Signature("Records manager".into()),
        ]
    }

    fn report(blocks: &[Block]) -> Report<'_> {
        Report {
            title: "Certificate of destruction",
            subject: "Destruction of paper health records",
            author: "Siân O'Connor",
            creator_tool: "Folio 0.1.0",
            created: OffsetDateTime::from_unix_timestamp(1_714_998_615)
                .unwrap()
                .to_offset(UtcOffset::from_hms(2, 0, 0).unwrap()),
            footer: "St Elsewhere Hospital — Health Records — DC-2024-0042",
            blocks,
        }
    }

    fn run(cmd: &str, args: &[&str], file: &Path) -> (bool, String) {
        let out = Command::new(cmd)
            .args(args)
            .arg(file)
            .args(if cmd == "pdftotext" {
                &["-"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    #[test]
    fn writes_a_valid_searchable_multi_page_pdf() {
        let blocks = sample_blocks();
        let bytes = write(&report(&blocks)).unwrap();
        assert!(bytes.starts_with(b"%PDF-1.4\n%"));
        assert!(bytes[10..14].iter().all(|b| *b >= 128));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("certificate.pdf");
        std::fs::write(&file, &bytes).unwrap();

        let (ok, out) = run("qpdf", &["--check"], &file);
        assert!(ok, "qpdf --check failed:\n{out}");

        let (ok, info) = run("pdfinfo", &[], &file);
        assert!(ok, "{info}");
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        assert!(pages > 1, "{info}");
        assert!(info.contains("Certificate of destruction"), "{info}");

        let (ok, text) = run("pdftotext", &["-layout", "-enc", "UTF-8"], &file);
        assert!(ok, "{text}");
        for want in [
            "Certificate of destruction",
            "Siân O'Connor",
            "Zoë Brontë — retention period expired…",
            "Box 0300",
            "MRN-011100",
            "page 1 of",
            &format!("page {pages} of {pages}"),
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(text.contains("bell\u{FFFD}character"), "{text}");
        assert!(!text.contains('\u{7}') && !text.contains('\u{202E}'));
        // The header is repeated on every page the table runs onto.
        assert!(text.matches("Content hash").count() >= pages - 1, "{text}");
    }

    #[test]
    fn metadata_is_pdfa_and_matches_info() {
        let blocks = sample_blocks();
        let bytes = write(&report(&blocks)).unwrap();
        let s = String::from_utf8_lossy(&bytes);
        assert!(s.contains("<pdfaid:part>1</pdfaid:part>"));
        assert!(s.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
        assert!(s.contains("<xmp:CreateDate>2024-05-06T14:30:15+02:00</xmp:CreateDate>"));
        assert!(s.contains("/CreationDate (D:20240506143015+02'00')"));
        assert!(s.contains(
            "<dc:creator><rdf:Seq><rdf:li>Siân O&apos;Connor</rdf:li></rdf:Seq></dc:creator>"
        ));
        assert!(s.contains("/S /GTS_PDFA1"));
        assert!(s.contains("/ID ["));
        assert!(!s.contains("/ObjStm") && !s.contains("/XRef"));
    }

    #[test]
    fn same_input_same_bytes() {
        let blocks = sample_blocks();
        assert_eq!(
            write(&report(&blocks)).unwrap(),
            write(&report(&blocks)).unwrap()
        );
    }

    #[test]
    fn long_words_are_broken_within_the_width() {
        let fonts = Fonts::load().unwrap();
        let word = "0123456789abcdef".repeat(8);
        let lines = wrap(&fonts.regular, &format!("hash {word} end"), 10.0, 100.0);
        assert!(lines.len() > 3, "{lines:?}");
        for l in &lines {
            assert!(fonts.regular.width(l, 10.0) <= 100.0, "{l}");
        }
        assert_eq!(lines.concat().replace(' ', ""), format!("hash{word}end"));
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(clean("a\u{0}b\r\nc\td\u{202E}"), "a\u{FFFD}b\nc d\u{FFFD}");
    }

    #[test]
    fn an_empty_report_has_one_page_and_only_the_regular_font() {
        let mut r = report(&[]);
        r.title = "";
        let bytes = write(&r).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.pdf");
        std::fs::write(&file, &bytes).unwrap();
        let (ok, out) = run("qpdf", &["--check"], &file);
        assert!(ok, "{out}");
        let (_, text) = run("pdftotext", &["-layout", "-enc", "UTF-8"], &file);
        assert!(text.contains("page 1 of 1"), "{text}");
        assert!(!String::from_utf8_lossy(&bytes).contains("DejaVuSans-Bold"));
    }

    #[test]
    fn bad_table_shapes_are_errors() {
        let blocks = [Block::Table {
            widths: vec![0.5, 0.5],
            header: vec![],
            rows: vec![vec!["a".into(), "b".into(), "c".into()]],
        }];
        assert!(matches!(
            write(&report(&blocks)),
            Err(ReportError::TableShape { .. })
        ));
    }
}
