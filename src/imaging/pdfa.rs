//! What makes a PDF that Folio writes PDF/A-1b (ISO 19005-1, level B), shared
//! by the document PDFs of scanned pages (`pdf`) and the text reports
//! (`report_pdf`): the Info dictionary and an XMP packet that match each other
//! entry for entry, the `pdfaid` identification, and an output intent with an
//! embedded ICC profile (sRGB for scanned pages, which may be colour or grey;
//! grey for reports, which draw only in grey). The writers themselves add a
//! 1.4 header with a binary comment, a classic cross-reference table (no
//! object or cross-reference streams) and a trailer `/ID`.
//!
//! Text from outside that reaches a PDF (titles, names, identifiers) is cleaned
//! here first, so nothing is written raw and nothing can reorder what a reader
//! sees.

use pdf_writer::types::OutputIntentSubtype;
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Chunk, Name, Ref, Str, TextStr};
use time::{OffsetDateTime, UtcOffset};

/// A date a PDF cannot carry.
#[derive(Debug, thiserror::Error)]
#[error("the date's year {0} cannot be written in a PDF (0 to 9999)")]
pub struct BadYear(pub i32);

// ---------------------------------------------------------------------------
// Text cleaning.

/// Makes outside text safe to lay out: CR LF, CR and the Unicode line and
/// paragraph separators become `\n`, a tab a space; any other control
/// character, the invisible direction overrides/isolates, a BOM and the
/// non-characters U+FFFE/U+FFFF become U+FFFD.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() || is_invisible_format(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional controls, the BOM and XML-forbidden non-characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    )
}

/// Cleaned text for metadata: one line.
pub fn clean_line(s: &str) -> String {
    clean(s).replace('\n', " ")
}

// ---------------------------------------------------------------------------
// Metadata: Info dictionary, XMP, output intent.

/// Cleaned metadata strings and the creation date in both notations.
pub struct Meta {
    title: String,
    subject: String,
    author: String,
    tool: String,
    /// `D:YYYYMMDDHHmmSSOHH'mm'`
    pdf_date: String,
    /// `YYYY-MM-DDThh:mm:ssTZD`
    xmp_date: String,
}

impl Meta {
    /// Info /Title and XMP dc:title; /Subject and dc:description; /Author
    /// and dc:creator; /Creator, /Producer, xmp:CreatorTool and pdf:Producer
    /// (e.g. "Folio 0.1.0"); the creation and modification dates (whole
    /// seconds). Empty strings are left out of both.
    pub fn new(
        title: &str,
        subject: &str,
        author: &str,
        tool: &str,
        created: OffsetDateTime,
    ) -> Result<Meta, BadYear> {
        let (pdf_date, xmp_date) = dates(created)?;
        Ok(Meta {
            title: clean_line(title),
            subject: clean_line(subject),
            author: clean_line(author),
            tool: clean_line(tool),
            pdf_date,
            xmp_date,
        })
    }
}

/// The instant as a PDF date string and an XMP date, to the second, in the
/// given offset (or UTC if the offset has seconds, which neither can carry).
fn dates(t: OffsetDateTime) -> Result<(String, String), BadYear> {
    let t = if t.offset().seconds_past_minute() != 0 {
        t.to_offset(UtcOffset::UTC)
    } else {
        t
    };
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return Err(BadYear(year));
    }
    let (mo, d, h, mi, s) = (
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    );
    let off = t.offset();
    let (pdf_tz, xmp_tz) = if off.is_utc() {
        ("Z".to_owned(), "Z".to_owned())
    } else {
        let sign = if off.is_negative() { '-' } else { '+' };
        let (oh, om) = (
            off.whole_hours().unsigned_abs(),
            off.minutes_past_hour().unsigned_abs(),
        );
        (
            format!("{sign}{oh:02}'{om:02}'"),
            format!("{sign}{oh:02}:{om:02}"),
        )
    };
    Ok((
        format!("D:{year:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{pdf_tz}"),
        format!("{year:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{xmp_tz}"),
    ))
}

pub fn fill_info(info: &mut DocumentInfo<'_>, meta: &Meta) {
    if !meta.title.is_empty() {
        info.title(TextStr(&meta.title));
    }
    if !meta.author.is_empty() {
        info.author(TextStr(&meta.author));
    }
    if !meta.subject.is_empty() {
        info.subject(TextStr(&meta.subject));
    }
    if !meta.tool.is_empty() {
        info.creator(TextStr(&meta.tool));
        info.producer(TextStr(&meta.tool));
    }
    info.pair(Name(b"CreationDate"), Str(meta.pdf_date.as_bytes()));
    info.pair(Name(b"ModDate"), Str(meta.pdf_date.as_bytes()));
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The XMP packet: Dublin Core, XMP basic, Adobe PDF and PDF/A identification.
fn xmp(m: &Meta) -> String {
    let mut dc = String::from("<dc:format>application/pdf</dc:format>\n");
    let alt = |v: &str| {
        format!(
            "<rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt>",
            xml_escape(v)
        )
    };
    if !m.title.is_empty() {
        dc += &format!("<dc:title>{}</dc:title>\n", alt(&m.title));
    }
    if !m.author.is_empty() {
        dc += &format!(
            "<dc:creator><rdf:Seq><rdf:li>{}</rdf:li></rdf:Seq></dc:creator>\n",
            xml_escape(&m.author)
        );
    }
    if !m.subject.is_empty() {
        dc += &format!("<dc:description>{}</dc:description>\n", alt(&m.subject));
    }
    let date = &m.xmp_date;
    let mut basic = format!(
        "<xmp:CreateDate>{date}</xmp:CreateDate>\n<xmp:ModifyDate>{date}</xmp:ModifyDate>\n<xmp:MetadataDate>{date}</xmp:MetadataDate>\n"
    );
    let mut producer = String::new();
    if !m.tool.is_empty() {
        let tool = xml_escape(&m.tool);
        basic += &format!("<xmp:CreatorTool>{tool}</xmp:CreatorTool>\n");
        producer = format!("<pdf:Producer>{tool}</pdf:Producer>\n");
    }
    format!(
        "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">
<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">
<rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">
{dc}</rdf:Description>
<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">
{basic}</rdf:Description>
<rdf:Description rdf:about=\"\" xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">
{producer}</rdf:Description>
<rdf:Description rdf:about=\"\" xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\">
<pdfaid:part>1</pdfaid:part>
<pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end=\"w\"?>"
    )
}

/// Writes the XMP packet (uncompressed, as PDF/A requires) as `xmp_ref`.
pub fn write_xmp(c: &mut Chunk, xmp_ref: Ref, meta: &Meta) {
    c.metadata(xmp_ref, xmp(meta).as_bytes());
}

// ---------------------------------------------------------------------------
// Output intent and ICC profiles.

/// The colour the pages are drawn in, and so the output intent's profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Scanned pages: DeviceRGB and DeviceGray images. PDF/A-1 allows
    /// DeviceGray under any output intent and DeviceRGB only under an RGB one.
    Srgb,
    /// Reports drawn only in DeviceGray.
    Grey,
}

/// Folio's sRGB profile, computed by [`icc_srgb_profile`] and shipped under
/// `assets/icc/` with its licence (a unit test keeps the two the same).
const SRGB_ICC: &[u8] = include_bytes!("../../assets/icc/sRGB-Folio-v2.icc");

impl Profile {
    fn description(self) -> &'static str {
        match self {
            Profile::Srgb => SRGB_DESCRIPTION,
            Profile::Grey => GREY_DESCRIPTION,
        }
    }
}

/// Writes the ICC profile stream of `profile` as `icc_ref`.
pub fn write_icc(c: &mut Chunk, icc_ref: Ref, profile: Profile) {
    match profile {
        Profile::Srgb => {
            c.icc_profile(icc_ref, SRGB_ICC)
                .n(3)
                .range([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
                .alternate_name(Name(b"DeviceRGB"));
        }
        Profile::Grey => {
            c.icc_profile(icc_ref, &icc_grey_profile())
                .n(1)
                .range([0.0, 1.0])
                .alternate_name(Name(b"DeviceGray"));
        }
    }
}

/// Points the catalog at the XMP packet and adds the `GTS_PDFA1` output
/// intent with the profile written as `icc_ref`.
pub fn catalog_entries(cat: &mut Catalog<'_>, xmp_ref: Ref, icc_ref: Ref, profile: Profile) {
    cat.metadata(xmp_ref);
    let id = match profile {
        // The name registered with the ICC for the colour space we embed.
        Profile::Srgb => "sRGB IEC61966-2.1",
        Profile::Grey => "Custom",
    };
    cat.output_intents()
        .push()
        .subtype(OutputIntentSubtype::PDFA)
        .output_condition_identifier(TextStr(id))
        .output_condition(TextStr(profile.description()))
        .info(TextStr(profile.description()))
        .dest_output_profile(icc_ref);
}

const GREY_DESCRIPTION: &str = "Grey, gamma 2.2, D50 white";
const SRGB_DESCRIPTION: &str = "sRGB IEC61966-2.1 (Folio, ICC v2)";

/// D50 in s15Fixed16 (X 0.9642, Y 1.0, Z 0.8249), as the ICC spec encodes it.
const D50: [u32; 3] = [0x0000_F6D6, 0x0001_0000, 0x0000_D32D];

fn s15(v: f64) -> [u8; 4] {
    // Values here are within ±2, far inside s15Fixed16's range.
    #[allow(clippy::cast_possible_truncation)]
    let fixed = (v * 65536.0).round() as i32;
    fixed.to_be_bytes()
}

fn xyz_tag(v: [f64; 3]) -> Vec<u8> {
    let mut t = b"XYZ \0\0\0\0".to_vec();
    for c in v {
        t.extend_from_slice(&s15(c));
    }
    t
}

fn d50_tag() -> Vec<u8> {
    let mut t = b"XYZ \0\0\0\0".to_vec();
    for v in D50 {
        t.extend_from_slice(&v.to_be_bytes());
    }
    t
}

fn copyright_tag() -> Vec<u8> {
    let mut cprt = b"text\0\0\0\0".to_vec();
    cprt.extend_from_slice(b"No copyright, use freely\0");
    cprt
}

/// A minimal ICC v2.1 display ('mntr') profile for grey ('GRAY' data, 'XYZ '
/// connection space): desc, cprt, wtpt (D50) and kTRC (gamma 2.2).
fn icc_grey_profile() -> Vec<u8> {
    // curveType with one entry: a gamma in u8Fixed8 (0x0233 = 2.1992).
    let ktrc = [
        b"curv".as_slice(),
        &[0; 4],
        &1u32.to_be_bytes(),
        &0x0233u16.to_be_bytes(),
    ]
    .concat();
    icc_profile(
        b"GRAY",
        &[
            (b"desc", icc_text_description(GREY_DESCRIPTION)),
            (b"cprt", copyright_tag()),
            (b"wtpt", d50_tag()),
            (b"kTRC", ktrc),
        ],
    )
}

/// sRGB as an ICC v2.1 matrix/TRC display profile: the IEC 61966-2-1
/// primaries adapted to the D50 connection space (Bradford), as in the
/// profiles the colour-management libraries ship, and the sRGB tone curve
/// sampled at 1024 points (v2 has no parametric curves). Built here rather
/// than copied from a vendor so its provenance and licence are ours.
pub fn icc_srgb_profile() -> Vec<u8> {
    let trc = srgb_curve();
    icc_profile(
        b"RGB ",
        &[
            (b"desc", icc_text_description(SRGB_DESCRIPTION)),
            (b"cprt", copyright_tag()),
            (b"wtpt", d50_tag()),
            (b"rXYZ", xyz_tag([0.436_074_7, 0.222_504_5, 0.013_932_2])),
            (b"gXYZ", xyz_tag([0.385_064_9, 0.716_878_6, 0.097_104_5])),
            (b"bXYZ", xyz_tag([0.143_080_4, 0.060_616_9, 0.714_173_3])),
            (b"rTRC", trc.clone()),
            (b"gTRC", trc.clone()),
            (b"bTRC", trc),
        ],
    )
}

fn srgb_curve() -> Vec<u8> {
    const POINTS: u16 = 1024;
    let mut t = [
        b"curv".as_slice(),
        &[0; 4],
        &u32::from(POINTS).to_be_bytes(),
    ]
    .concat();
    for i in 0..POINTS {
        let x = f64::from(i) / f64::from(POINTS - 1);
        let y = if x <= 0.040_45 {
            x / 12.92
        } else {
            ((x + 0.055) / 1.055).powf(2.4)
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = (y * 65535.0).round().clamp(0.0, 65535.0) as u16;
        t.extend_from_slice(&v.to_be_bytes());
    }
    t
}

/// A profile of `space` data with the given tags, each 4-byte aligned; tags
/// with the same data share it (as the ICC spec allows: sRGB's three tone
/// curves are one), which keeps the profile in every PDF small.
fn icc_profile(space: &[u8; 4], tags: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let table_len = 4 + 12 * tags.len();
    let mut table = (tags.len() as u32).to_be_bytes().to_vec();
    let mut data = Vec::new();
    let mut placed: Vec<(&[u8], usize)> = Vec::new();
    for (sig, body) in tags {
        let offset = match placed.iter().find(|(b, _)| *b == body.as_slice()) {
            Some(&(_, at)) => at,
            None => {
                let at = 128 + table_len + data.len();
                data.extend_from_slice(body);
                data.resize(data.len().next_multiple_of(4), 0);
                placed.push((body, at));
                at
            }
        };
        table.extend_from_slice(*sig);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&(body.len() as u32).to_be_bytes());
    }
    let size = 128 + table.len() + data.len();
    let mut out = icc_header(size as u32, space);
    out.extend(table);
    out.extend(data);
    out
}

/// The 128-byte profile header.
fn icc_header(size: u32, space: &[u8; 4]) -> Vec<u8> {
    let mut h = Vec::with_capacity(size as usize);
    h.extend_from_slice(&size.to_be_bytes());
    h.extend_from_slice(&[0; 4]); // preferred CMM: none
    h.extend_from_slice(&0x0210_0000u32.to_be_bytes()); // version 2.1.0
    h.extend_from_slice(b"mntr");
    h.extend_from_slice(space);
    h.extend_from_slice(b"XYZ ");
    for v in [2024u16, 1, 1, 0, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes()); // fixed date: deterministic
    }
    h.extend_from_slice(b"acsp");
    h.extend_from_slice(&[0; 24]); // platform, flags, manufacturer, model, attributes
    h.extend_from_slice(&0u32.to_be_bytes()); // perceptual intent
    for v in D50 {
        h.extend_from_slice(&v.to_be_bytes()); // PCS illuminant
    }
    h.resize(128, 0); // creator, reserved
    h
}

/// A textDescriptionType: ASCII text, empty Unicode and ScriptCode parts.
fn icc_text_description(text: &str) -> Vec<u8> {
    let mut d = b"desc\0\0\0\0".to_vec();
    d.extend_from_slice(&(text.len() as u32 + 1).to_be_bytes());
    d.extend_from_slice(text.as_bytes());
    d.push(0);
    d.extend_from_slice(&[0; 8]); // Unicode language code, count
    d.extend_from_slice(&[0; 3]); // ScriptCode code, count
    d.extend_from_slice(&[0; 67]); // ScriptCode text
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_profile(icc: &[u8], space: &[u8; 4], tags: &[&[u8; 4]]) {
        let size = u32::from_be_bytes(icc[0..4].try_into().unwrap()) as usize;
        assert_eq!(size, icc.len());
        assert_eq!(size % 4, 0);
        assert_eq!(&icc[36..40], b"acsp");
        assert_eq!(&icc[12..16], b"mntr");
        assert_eq!(&icc[16..20], space);
        let count = u32::from_be_bytes(icc[128..132].try_into().unwrap()) as usize;
        assert_eq!(count, tags.len());
        for i in 0..count {
            let e = 132 + 12 * i;
            let off = u32::from_be_bytes(icc[e + 4..e + 8].try_into().unwrap()) as usize;
            let len = u32::from_be_bytes(icc[e + 8..e + 12].try_into().unwrap()) as usize;
            assert_eq!(off % 4, 0);
            assert!(off >= 132 + 12 * count && off + len <= size);
            let sig: &[u8; 4] = icc[e..e + 4].try_into().unwrap();
            assert!(tags.contains(&sig), "unexpected tag {sig:?}");
            let kind: &[u8] = match sig {
                b"desc" => b"desc",
                b"cprt" => b"text",
                b"kTRC" | b"rTRC" | b"gTRC" | b"bTRC" => b"curv",
                _ => b"XYZ ",
            };
            assert_eq!(&icc[off..off + 4], kind);
        }
    }

    #[test]
    fn grey_profile_is_well_formed() {
        check_profile(
            &icc_grey_profile(),
            b"GRAY",
            &[b"desc", b"cprt", b"wtpt", b"kTRC"],
        );
    }

    #[test]
    fn srgb_profile_is_well_formed_and_is_the_shipped_asset() {
        let icc = icc_srgb_profile();
        check_profile(
            &icc,
            b"RGB ",
            &[
                b"desc", b"cprt", b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC",
            ],
        );
        if std::env::var_os("FOLIO_WRITE_ICC").is_some() {
            std::fs::write("assets/icc/sRGB-Folio-v2.icc", &icc).unwrap();
        }
        assert!(
            SRGB_ICC == icc.as_slice(),
            "assets/icc/sRGB-Folio-v2.icc is not the profile computed here; \
             FOLIO_WRITE_ICC=1 cargo test srgb_profile rewrites it"
        );
    }

    #[test]
    fn srgb_curve_is_monotonic_from_black_to_white() {
        let c = srgb_curve();
        let v: Vec<u16> = c[12..]
            .chunks(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(v.len(), 1024);
        assert_eq!((v[0], v[1023]), (0, 65535));
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        // Mid grey (sRGB 0.5) is about 21.4% linear light.
        assert!((f64::from(v[512]) / 65535.0 - 0.2158).abs() < 0.01);
    }

    #[test]
    fn metadata_dates_and_escaping() {
        let t = OffsetDateTime::from_unix_timestamp(1_714_998_615)
            .unwrap()
            .to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        let m = Meta::new("A & <b>", "s\u{202E}x", "", "Folio", t).unwrap();
        assert_eq!(m.pdf_date, "D:20240506143015+02'00'");
        assert_eq!(m.xmp_date, "2024-05-06T14:30:15+02:00");
        let x = xmp(&m);
        assert!(x.contains("A &amp; &lt;b&gt;"), "{x}");
        assert!(x.contains("s\u{FFFD}x"), "{x}");
        assert!(!x.contains("dc:creator"), "{x}");
        let far = OffsetDateTime::from_unix_timestamp(-62_200_000_000).unwrap();
        assert!(Meta::new("", "", "", "", far).is_err());
    }
}
