//! The destruction run (issue 18, item 4): what may go, grouped by where
//! the paper is; and certifying a destruction with two people: every
//! precondition checked again at that moment, the batches marked destroyed,
//! a certificate written twice (a PDF for people with patient identifiers
//! masked, a JSON document for systems with them in full), each with its
//! SHA-256, and an entry in the hash-chained destruction register.
//! Runs on the calling thread (the CLI's, or the window's worker).

use crate::batch::retention::{Refusal, checked_text, masked, may_destroy};
use crate::batch::roles::{self, Action};
use crate::config::Config;
use crate::imaging::report_pdf::{self, Block, Report};
use crate::store::{Actor, BatchTree, Receipt, RegisterEntry, Store, StoreError};
use serde::Serialize;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DestructionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Access(#[from] super::access::AccessError),
    #[error("{0}")]
    Input(String),
    #[error("nothing was destroyed: {0}")]
    Refused(String),
    #[error("cannot write the certificate: {0}")]
    Write(String),
}

/// A batch whose paper may go, as listed for the destruction run.
#[derive(Debug, Clone, Serialize)]
pub struct DueBatch {
    pub batch_id: String,
    pub label: String,
    pub paper_location: Option<String>,
    pub hold_until: Option<String>,
    pub records: u32,
    pub documents: u32,
    /// Why it may not go now (empty: it may).
    pub refusals: Vec<Refusal>,
}

/// Batches due for destruction (after moving on every batch whose hold
/// date has passed), grouped by where the paper is, in label order.
pub fn due(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
) -> Result<Vec<(String, Vec<DueBatch>)>, DestructionError> {
    let now = crate::rfc3339(crate::paper_now());
    store.advance_all_paper(&cfg.retention, &now, actor)?;
    let mut groups: std::collections::BTreeMap<String, Vec<DueBatch>> = Default::default();
    for b in store.list_batches()? {
        if b.state != crate::batch::BatchState::DestructionDue {
            continue;
        }
        let f = store.paper_facts(&b.id)?;
        let refusals = may_destroy(&f, &now).err().unwrap_or_default();
        let place = b
            .paper_location
            .clone()
            .unwrap_or_else(|| "(location not recorded)".into());
        groups.entry(place).or_default().push(DueBatch {
            batch_id: b.id,
            label: b.label,
            paper_location: b.paper_location,
            hold_until: b.hold_until,
            records: b.records,
            documents: f.documents,
            refusals,
        });
    }
    Ok(groups.into_iter().collect())
}

/// A batch whose paper is held or due, as the Destruction screen lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PaperRow {
    pub batch_id: String,
    pub label: String,
    pub state: crate::batch::BatchState,
    pub paper_location: Option<String>,
    pub hold_until: Option<String>,
    pub records: u32,
    pub documents: u32,
    pub legal_holds: u32,
    /// Due for destruction now (its hold date passed, nothing holds it).
    pub due: bool,
    /// Why it may not go now (empty: it may).
    pub refusals: Vec<Refusal>,
}

/// Every batch whose paper is held or due, judged at `now` without
/// changing anything (a held batch whose date has passed shows as due: the
/// next write moves it).
pub fn paper_rows(store: &Store, now: &str) -> Result<Vec<PaperRow>, StoreError> {
    use crate::batch::BatchState::{DestructionDue, PaperHeld};
    let mut rows = Vec::new();
    for b in store.list_batches()? {
        if !matches!(b.state, PaperHeld | DestructionDue) {
            continue;
        }
        let mut f = store.paper_facts(&b.id)?;
        if crate::batch::retention::next_state(&f, now) == Some(DestructionDue) {
            f.state = DestructionDue;
        }
        let refusals = may_destroy(&f, now).err().unwrap_or_default();
        rows.push(PaperRow {
            batch_id: b.id,
            label: b.label,
            state: f.state,
            paper_location: b.paper_location,
            hold_until: b.hold_until,
            records: b.records,
            documents: f.documents,
            legal_holds: f.legal_holds,
            due: f.state == DestructionDue && f.legal_holds == 0,
            refusals,
        });
    }
    rows.sort_by(|a, b| {
        (&a.paper_location, &a.hold_until, &a.batch_id).cmp(&(
            &b.paper_location,
            &b.hold_until,
            &b.batch_id,
        ))
    });
    Ok(rows)
}

/// What `folio destruction certify` (and the Destruction screen) asks for.
#[derive(Debug, Clone)]
pub struct CertifyRequest {
    pub batches: Vec<String>,
    /// How the paper is destroyed ("cross-cut shredding, contractor X").
    pub method: String,
}

/// A destruction certified.
#[derive(Debug, Clone, Serialize)]
pub struct Certified {
    pub certificate_id: String,
    pub pdf: PathBuf,
    pub json: PathBuf,
    pub pdf_sha256: String,
    pub json_sha256: String,
    pub register: RegisterEntry,
}

/// The certificate for systems: everything, identifiers in full.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateJson {
    pub format: &'static str,
    pub certificate_id: String,
    pub created: String,
    pub station: String,
    pub site: String,
    pub authorised_by: Person,
    pub witness: Person,
    pub method: String,
    /// What was checked at the moment of certifying, for every batch.
    pub preconditions: Vec<&'static str>,
    pub totals: Totals,
    pub batches: Vec<CertBatch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub operator: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub batches: u32,
    pub records: u32,
    pub documents: u32,
    pub pages: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertBatch {
    pub batch_id: String,
    pub label: String,
    pub source: String,
    pub paper_location: String,
    pub scanned: String,
    pub verified_at: Option<String>,
    pub hold_until: Option<String>,
    pub records: Vec<CertRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertRecord {
    pub record_id: String,
    pub nhs_number: Option<String>,
    pub hospital_number: Option<String>,
    pub documents: Vec<CertDocument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertDocument {
    pub document_id: String,
    pub pages: u32,
    pub bytes: u64,
    pub sha256: String,
    /// The read-back that verified it in the central store.
    pub receipt: Receipt,
}

/// The certificate's format name.
pub const FORMAT: &str = "folio.destruction-certificate/1";

const PRECONDITIONS: [&str; 5] = [
    "every document read back from the central store with the size and SHA-256 sent",
    "the paper's hold date has passed",
    "no legal hold is in force on the batch or any of its records",
    "no flag raised since approval is open",
    "where the paper is was recorded",
];

/// Certifies the destruction of `req.batches`' paper, authorised by
/// `authoriser` (a supervisor) and witnessed by `witness` (another person):
/// checks every precondition, writes the certificate (JSON, then the PDF,
/// which names the JSON's SHA-256) under `certificates/` in the data folder,
/// then marks the batches destroyed and enters the certificate in the
/// register in one transaction that checks every precondition again.
pub fn certify(
    store: &mut Store,
    cfg: &Config,
    authoriser: &Actor,
    witness: &Actor,
    req: &CertifyRequest,
) -> Result<Certified, DestructionError> {
    check_people(store, authoriser, witness)?;
    let method = checked_text("the method", &req.method).map_err(DestructionError::Input)?;
    if req.batches.is_empty() {
        return Err(DestructionError::Input(
            "name the batches to certify".into(),
        ));
    }
    let now = crate::rfc3339(crate::paper_now());
    store.advance_all_paper(&cfg.retention, &now, authoriser)?;
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    for b in &req.batches {
        let id = store.find_batch(b)?.id;
        if let Err(why) = may_destroy(&store.paper_facts(&id)?, &now) {
            let words: Vec<String> = why.iter().map(ToString::to_string).collect();
            refused.push(format!("batch {id}: {}", words.join("; ")));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if !refused.is_empty() {
        return Err(DestructionError::Refused(refused.join(". ")));
    }
    let cert = certificate(store, cfg, authoriser, witness, &ids, &method, &now)?;
    let json =
        serde_json::to_vec_pretty(&cert).map_err(|e| DestructionError::Write(e.to_string()))?;
    let json_sha256 = crate::store::sha256_hex(&json);
    let pdf = certificate_pdf(&cert, &json_sha256)?;
    let pdf_sha256 = crate::store::sha256_hex(&pdf);
    // At an encrypted station, in its vault and sealed (they name
    // patients): `folio destruction certificate` writes a copy out.
    let dir = store.root().join("certificates");
    let keys = store.keys().cloned();
    let write = |name: String, bytes: &[u8]| {
        crate::store::images::write_file(&dir, &name, bytes, keys.as_deref())
            .map_err(|e| DestructionError::Write(e.to_string()))
    };
    let json_path = write(format!("{}.json", cert.certificate_id), &json)?;
    let pdf_path = write(format!("{}.pdf", cert.certificate_id), &pdf)?;
    let entry = crate::store::NewCertificate {
        certificate_id: &cert.certificate_id,
        method: &method,
        batches: &ids,
        pdf_sha256: &pdf_sha256,
        json_sha256: &json_sha256,
    };
    let register = match store.certify_destruction(&entry, &now, authoriser, witness) {
        Ok(r) => r,
        Err(e) => {
            // Not destroyed after all (a hold placed a moment ago): no
            // certificate may stay behind.
            let _ = std::fs::remove_file(&json_path);
            let _ = std::fs::remove_file(&pdf_path);
            return Err(e.into());
        }
    };
    Ok(Certified {
        certificate_id: cert.certificate_id,
        pdf: pdf_path,
        json: json_path,
        pdf_sha256,
        json_sha256,
        register,
    })
}

/// The authoriser may authorise, the witness may witness, and they are two
/// people.
fn check_people(
    store: &Store,
    authoriser: &Actor,
    witness: &Actor,
) -> Result<(), DestructionError> {
    let accounts = store.has_operators()?;
    roles::permit(authoriser.role, Action::CertifyDestruction, accounts)
        .map_err(super::access::AccessError::from)?;
    roles::permit(witness.role, Action::WitnessDestruction, accounts)
        .map_err(super::access::AccessError::from)?;
    if authoriser.operator == witness.operator {
        return Err(
            super::access::AccessError::from(roles::Refusal::SameWitness {
                operator: witness.operator.clone(),
            })
            .into(),
        );
    }
    Ok(())
}

fn person(store: &Store, a: &Actor) -> Person {
    Person {
        operator: a.operator.clone(),
        name: store
            .operator(&a.operator)
            .map(|o| o.name)
            .unwrap_or_default(),
        role: a.role.map(|r| r.as_str().to_string()).unwrap_or_default(),
    }
}

/// The certificate's content, read from the cache.
fn certificate(
    store: &Store,
    cfg: &Config,
    authoriser: &Actor,
    witness: &Actor,
    ids: &[String],
    method: &str,
    now: &str,
) -> Result<CertificateJson, DestructionError> {
    let mut batches = Vec::new();
    let mut totals = Totals::default();
    for id in ids {
        let tree = store.tree(id)?;
        let facts = store.paper_facts(id)?;
        let receipts = store.latest_receipts(id)?;
        let b = cert_batch(store, &tree, &receipts, &mut totals)?;
        batches.push(CertBatch {
            verified_at: facts.verified_at,
            hold_until: facts.hold_until,
            ..b
        });
    }
    totals.batches = batches.len() as u32;
    Ok(CertificateJson {
        format: FORMAT,
        certificate_id: uuid::Uuid::now_v7().to_string(),
        created: now.to_string(),
        station: cfg.station.clone(),
        site: cfg.site.clone(),
        authorised_by: person(store, authoriser),
        witness: person(store, witness),
        method: method.to_string(),
        preconditions: PRECONDITIONS.to_vec(),
        totals,
        batches,
    })
}

fn cert_batch(
    store: &Store,
    tree: &BatchTree,
    receipts: &[Receipt],
    totals: &mut Totals,
) -> Result<CertBatch, DestructionError> {
    let mut records = Vec::new();
    for r in &tree.records {
        let mut documents = Vec::new();
        for d in &r.documents {
            let pdf = store.cached_pdf(&d.id)?;
            let receipt = receipts
                .iter()
                .find(|x| x.document_id == d.id && x.verified);
            let (Some(pdf), Some(receipt)) = (pdf, receipt) else {
                return Err(DestructionError::Refused(format!(
                    "document {} of batch {} has no verified receipt",
                    d.id, tree.batch.id
                )));
            };
            totals.documents += 1;
            totals.pages += pdf.pages;
            documents.push(CertDocument {
                document_id: d.id.clone(),
                pages: pdf.pages,
                bytes: pdf.bytes,
                sha256: pdf.sha256,
                receipt: receipt.clone(),
            });
        }
        totals.records += 1;
        records.push(CertRecord {
            record_id: r.id.clone(),
            nhs_number: r.nhs_number.clone(),
            hospital_number: r.hospital_number.clone(),
            documents,
        });
    }
    Ok(CertBatch {
        batch_id: tree.batch.id.clone(),
        label: tree.batch.label.clone(),
        source: tree.batch.source.as_str().to_string(),
        paper_location: tree.batch.paper_location.clone().unwrap_or_default(),
        scanned: tree.batch.created.clone(),
        verified_at: None,
        hold_until: None,
        records,
    })
}

/// The certificate for people: what was destroyed, where it was, why it
/// was safe, who authorised and witnessed it, how; patient identifiers
/// masked to their last four characters.
pub fn certificate_pdf(
    c: &CertificateJson,
    json_sha256: &str,
) -> Result<Vec<u8>, DestructionError> {
    let mut blocks = vec![
        Block::Fields(vec![
            ("Certificate".into(), c.certificate_id.clone()),
            ("Date".into(), for_people(&c.created)),
            ("Station".into(), format!("{} ({})", c.station, c.site)),
            ("Method".into(), c.method.clone()),
            ("Authorised by".into(), who(&c.authorised_by)),
            ("Witnessed by".into(), who(&c.witness)),
            (
                "Destroyed".into(),
                format!(
                    "{} batch(es), {} records, {} documents, {} pages",
                    c.totals.batches, c.totals.records, c.totals.documents, c.totals.pages
                ),
            ),
        ]),
        Block::Heading("Why it was safe".into()),
        Block::Paragraph(format!(
            "Checked for every batch at the moment of certifying: {}.",
            c.preconditions.join("; ")
        )),
        Block::Heading("Records and where their documents are".into()),
        Block::Table {
            widths: vec![0.26, 0.20, 0.10, 0.44],
            header: [
                "Batch",
                "Patient",
                "Pages",
                "Documents in the store (SHA-256)",
            ]
            .map(String::from)
            .to_vec(),
            rows: c
                .batches
                .iter()
                .flat_map(|b| b.records.iter().map(move |r| record_row(b, r)))
                .collect(),
        },
        Block::Paragraph(format!(
            "The full list of patient identifiers and document receipts is in the certificate's JSON document ({}.json), SHA-256 {json_sha256}.",
            c.certificate_id
        )),
    ];
    // Each batch on its own after why it was safe: its id whole, where its
    // paper was, its dates.
    let per_batch: Vec<Block> = c
        .batches
        .iter()
        .flat_map(|b| {
            [
                Block::Heading(format!("Batch {}", b.label)),
                Block::Fields(batch_fields(b)),
            ]
        })
        .collect();
    blocks.splice(3..3, per_batch);
    blocks.push(Block::Signature(format!(
        "Authorised: {}",
        who(&c.authorised_by)
    )));
    blocks.push(Block::Signature(format!("Witnessed: {}", who(&c.witness))));
    let created =
        time::OffsetDateTime::parse(&c.created, &time::format_description::well_known::Rfc3339)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let title = "Certificate of destruction of paper records";
    let footer = format!("Folio destruction certificate {}", c.certificate_id);
    report_pdf::write(&Report {
        title,
        subject: "Paper case notes destroyed after verified digitisation",
        author: &who(&c.authorised_by),
        creator_tool: concat!("Folio ", env!("CARGO_PKG_VERSION")),
        created,
        footer: &footer,
        blocks: &blocks,
    })
    .map_err(|e| DestructionError::Write(e.to_string()))
}

/// A person as the certificate names them: name, account and role.
fn who(p: &Person) -> String {
    if p.name.is_empty() {
        format!("{} ({})", p.operator, p.role)
    } else {
        format!("{} — {} ({})", p.name, p.operator, p.role)
    }
}

/// A batch's lines on the certificate.
fn batch_fields(b: &CertBatch) -> Vec<(String, String)> {
    let pages: u32 = b
        .records
        .iter()
        .flat_map(|r| &r.documents)
        .map(|d| d.pages)
        .sum();
    let documents: usize = b.records.iter().map(|r| r.documents.len()).sum();
    let date = |d: &Option<String>| d.as_deref().map(for_people).unwrap_or_else(|| "-".into());
    vec![
        ("Batch id".into(), b.batch_id.clone()),
        ("Source".into(), b.source.replace('_', " ")),
        ("Paper was at".into(), b.paper_location.clone()),
        (
            "Contents".into(),
            format!(
                "{} records, {documents} documents, {pages} pages",
                b.records.len()
            ),
        ),
        ("Scanned".into(), for_people(&b.scanned)),
        ("All verified in the store".into(), date(&b.verified_at)),
        ("Paper held until".into(), date(&b.hold_until)),
    ]
}

/// A moment for people: `2026-12-07 08:59 UTC` (the JSON keeps it whole).
fn for_people(rfc3339: &str) -> String {
    let fmt = &time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(rfc3339, fmt) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => rfc3339.to_string(),
    }
}

fn record_row(b: &CertBatch, r: &CertRecord) -> Vec<String> {
    let patient = match (&r.nhs_number, &r.hospital_number) {
        (Some(n), _) => format!("NHS {}", masked(n)),
        (None, Some(h)) => format!("hospital no. {}", masked(h)),
        (None, None) => "-".into(),
    };
    let pages: u32 = r.documents.iter().map(|d| d.pages).sum();
    let docs: Vec<String> = r
        .documents
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                d.receipt.location,
                &d.sha256[..d.sha256.len().min(16)]
            )
        })
        .collect();
    vec![b.label.clone(), patient, pages.to_string(), docs.join(", ")]
}
