//! Approving batches and working off the upload outbox: the most urgent due
//! batch first (on-demand before the rest), record by record, each record's
//! acknowledgement committed before the next is sent. Transient failures wait
//! (the server's Retry-After, else backoff with jitter) and try again up to a
//! limit, then park the batch with the reason; refusals park it at once; a
//! conflicting copy in the store parks it for a supervisor. Runs on the
//! calling thread (the CLI's, or the GUI's upload thread).

use super::export::{ExportError, batch_pdfs, build_manifest};
use crate::batch::OutboxState;
use crate::batch::approval::{Approval, Overrides, Refusal, decide};
use crate::batch::text::upload_waits;
use crate::config::Config;
use crate::store::{Actor, BatchTree, CachedPdf, OutboxRow, Receipt, Store, StoreError};
use crate::upload::{
    DocumentFile, Origin, Progress, ProgressSink, RecordPackage, Target, UploadError, Verdict,
    backoff,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UploadWorkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Target(#[from] UploadError),
    #[error("batch {id} cannot be approved: {why}")]
    Refused { id: String, why: Refusal },
    #[error("batch {0} is not in the upload queue: approve it first (`folio approve {0}`)")]
    NotQueued(String),
    #[error("batch {0} has not been delivered yet: `folio upload` sends it and checks it")]
    NotDelivered(String),
    /// This sender's claim ran out and another sender took the batch over.
    #[error("batch {batch_id} was taken over by another sender")]
    LostClaim { batch_id: String },
}

/// What the uploader reports as it goes.
#[derive(Debug, Clone)]
pub enum UploadEvent {
    Started {
        batch_id: String,
        target: String,
        documents: u64,
        bytes: u64,
    },
    Progress {
        batch_id: String,
        progress: Progress,
    },
    Retrying {
        batch_id: String,
        attempt: u32,
        wait: Duration,
        why: String,
    },
    Parked {
        batch_id: String,
        state: OutboxState,
        why: String,
    },
    Done {
        batch_id: String,
        target: String,
        documents: u64,
        bytes: u64,
        seconds: f64,
    },
    /// The batch waits for its text (OCR) before it is sent
    /// ([`crate::batch::text::upload_waits`]); it is tried again shortly.
    WaitingForText { batch_id: String, why: String },
    /// Another sender (a second `folio upload`, the window) holds this batch
    /// until `until`: this one leaves it alone.
    HeldElsewhere {
        batch_id: String,
        owner: String,
        until: String,
    },
}

/// How often a batch waiting for its text is looked at again.
const TEXT_RECHECK: Duration = Duration::from_secs(15);

/// How long a sender's claim on a batch lasts without renewal: it is renewed
/// before each record, so this bounds one record's delivery (a claim whose
/// sender died is taken over when it runs out).
fn lease(cfg: &Config) -> Duration {
    Duration::from_secs(600 + 2 * cfg.upload.timeout_secs)
}

/// What `folio upload` should do.
#[derive(Clone, Default)]
pub struct UploadOptions {
    /// Only this batch (and re-queue it if it was parked).
    pub batch: Option<String>,
    /// Keep running, picking up batches as they are approved.
    pub watch: bool,
    /// Set from another thread to stop after the current record.
    pub stop: Arc<AtomicBool>,
    /// Told the PDF bytes of the current batch sent so far, as they go.
    pub live: Option<ProgressSink>,
}

/// Approves a closed batch if the one approval rule allows it
/// ([`crate::batch::approval::decide`]): builds its PDFs (once, kept) and queues
/// it, with what was overridden and why in the audit trail.
pub fn approve(
    store: &mut Store,
    cfg: &Config,
    batch: &str,
    actor: &Actor,
    overrides: &Overrides,
) -> Result<Approved, UploadWorkError> {
    let facts = super::access::approval_facts(store, cfg, batch)?;
    let approval = decide(&facts, overrides).map_err(|why| UploadWorkError::Refused {
        id: facts.batch_id.clone(),
        why,
    })?;
    let tree = store.tree(&facts.batch_id)?;
    // Built now unless they wait for text (then they are built with it).
    let text = store.text_progress(&facts.batch_id)?;
    if upload_waits(&text, cfg.ocr.upload_waits).is_none() {
        batch_pdfs(store, &tree)?;
    }
    store.approve_batch(&facts.batch_id, actor, &approval.audit_detail())?;
    Ok(Approved {
        batch_id: facts.batch_id,
        approval,
    })
}

/// A batch approved and queued.
#[derive(Debug, Clone)]
pub struct Approved {
    pub batch_id: String,
    pub approval: Approval,
}

/// Works off the outbox into `target`; returns the batches it finished.
pub fn run(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    target: &mut dyn Target,
    opts: &UploadOptions,
    on_event: &mut dyn FnMut(UploadEvent),
) -> Result<Vec<String>, UploadWorkError> {
    let only = match &opts.batch {
        Some(b) => {
            let id = store.find_batch(b)?.id;
            match store.outbox_entry(&id)? {
                None => return Err(UploadWorkError::NotQueued(id)),
                Some(row) if crate::batch::rules::may_requeue(row.state) => {
                    store.approve_batch(&id, actor, "queued again after it was parked")?;
                }
                Some(_) => {}
            }
            Some(id)
        }
        None => None,
    };
    let mut finished = Vec::new();
    let sender = Sender {
        id: crate::store::sender_name(&cfg.station),
        lease: lease(cfg),
    };
    let mut told = std::collections::HashSet::new();
    // Batches put off for their text in this run: a run that does not watch
    // says so and leaves them (the station or `folio upload` sends them later).
    let mut for_text = std::collections::HashSet::new();
    loop {
        if opts.stop.load(Ordering::Relaxed) {
            break;
        }
        // A claim in one transaction: of several senders, one gets a batch.
        if let Some(due) = store.claim_upload(&sender.id, sender.lease, only.as_deref())? {
            let text = store.text_progress(&due.batch_id)?;
            if let Some(why) = upload_waits(&text, cfg.ocr.upload_waits) {
                store.upload_deferred(&due.batch_id, &crate::rfc3339_after(TEXT_RECHECK), &why)?;
                if for_text.insert(due.batch_id.clone()) {
                    on_event(UploadEvent::WaitingForText {
                        batch_id: due.batch_id.clone(),
                        why,
                    });
                }
                continue;
            }
            if upload_batch(
                store, cfg, actor, target, &due, &sender, &opts.live, on_event,
            )? {
                finished.push(due.batch_id.clone());
            }
            continue;
        }
        // Nothing to claim now: batches waiting for their next try, and
        // batches another sender holds (theirs to send: said once).
        let mut waiting = Vec::new();
        for r in store.outbox()? {
            if r.state != OutboxState::Queued
                || only.as_ref().is_some_and(|b| *b != r.batch_id)
                || (!opts.watch && for_text.contains(&r.batch_id))
            {
                continue;
            }
            match store.upload_lease(&r.batch_id, &sender.id)? {
                Some((owner, until)) => {
                    if told.insert(r.batch_id.clone()) {
                        on_event(UploadEvent::HeldElsewhere {
                            batch_id: r.batch_id.clone(),
                            owner,
                            until,
                        });
                    }
                }
                None => waiting.push(r),
            }
        }
        let next = waiting.iter().map(|r| r.next_attempt_at.clone()).min();
        if next.is_none() && !opts.watch {
            break;
        }
        // Nothing due: sleep in short steps, to notice stop and new batches.
        let wait = next.map(|t| until(&t)).unwrap_or(Duration::from_secs(2));
        sleep_unless_stopped(wait.min(Duration::from_secs(2)), &opts.stop);
    }
    Ok(finished)
}

fn until(rfc3339: &str) -> Duration {
    let fmt = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(rfc3339, &fmt)
        .map(|t| t - time::OffsetDateTime::now_utc())
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default()
}

/// Sleeps `d`, waking early when `stop` is set.
pub(crate) fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
}

/// This run as a sender: its claim owner name and how long a claim lasts.
struct Sender {
    id: String,
    lease: Duration,
}

/// One try at a batch this sender has claimed; true when it is done.
#[allow(clippy::too_many_arguments)]
fn upload_batch(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    target: &mut dyn Target,
    row: &OutboxRow,
    sender: &Sender,
    live: &Option<ProgressSink>,
    on_event: &mut dyn FnMut(UploadEvent),
) -> Result<bool, UploadWorkError> {
    let at = Delivery {
        batch_id: &row.batch_id,
        sender,
        actor,
    };
    match deliver_batch(store, cfg, target, &at, live, on_event) {
        Ok(done) => {
            // Said once the outbox says so: whoever hears it and looks finds
            // the batch done.
            store.upload_done(&row.batch_id, &target.describe(), actor)?;
            // Every document verified: the paper is held from now.
            let now = crate::rfc3339(crate::paper_now());
            store.advance_paper(&row.batch_id, &cfg.retention, &now, actor)?;
            on_event(done);
            Ok(true)
        }
        Err(UploadWorkError::Target(e)) => {
            let attempt = row.attempts + 1;
            let why = e.to_string();
            let park = |state: OutboxState,
                        why: String,
                        store: &mut Store|
             -> Result<(), UploadWorkError> {
                store.park_upload(&row.batch_id, state, &why, actor)?;
                Ok(())
            };
            let (state, why) = match &e {
                UploadError::Transient { retry_after, .. } if attempt < cfg.upload.max_attempts => {
                    let wait = backoff(&cfg.upload, attempt, *retry_after);
                    store.upload_failed(&row.batch_id, &crate::rfc3339_after(wait), &why)?;
                    on_event(UploadEvent::Retrying {
                        batch_id: row.batch_id.clone(),
                        attempt,
                        wait,
                        why,
                    });
                    return Ok(false);
                }
                UploadError::Transient { .. } => (
                    OutboxState::Parked,
                    format!(
                        "gave up after {attempt} tries: {why}. Fix the cause, then `folio upload --batch {}`",
                        row.batch_id
                    ),
                ),
                UploadError::Conflict { .. } => (OutboxState::Conflict, why),
                _ => (OutboxState::Parked, why),
            };
            park(state, why.clone(), store)?;
            on_event(UploadEvent::Parked {
                batch_id: row.batch_id.clone(),
                state,
                why,
            });
            Ok(false)
        }
        Err(UploadWorkError::LostClaim { batch_id, .. }) => {
            // Another sender has it now; it carries on from the records
            // already acknowledged.
            on_event(UploadEvent::HeldElsewhere {
                batch_id,
                owner: "another sender".into(),
                until: String::new(),
            });
            Ok(false)
        }
        Err(other) => Err(other),
    }
}

/// One batch being delivered: by which sender, in whose name.
struct Delivery<'a> {
    batch_id: &'a str,
    sender: &'a Sender,
    actor: &'a Actor,
}

/// Sends every record of a batch the target does not hold yet and reads
/// back every document not yet verified, then lets the target finish the
/// batch; returns the `Done` event, for the caller to send once the outbox
/// records it. Documents that did not read back as sent are flagged and
/// make the batch's try fail (transient: they are sent again on the next).
fn deliver_batch(
    store: &mut Store,
    cfg: &Config,
    target: &mut dyn Target,
    at: &Delivery<'_>,
    live: &Option<ProgressSink>,
    on_event: &mut dyn FnMut(UploadEvent),
) -> Result<UploadEvent, UploadWorkError> {
    let batch_id = at.batch_id;
    let started = Instant::now();
    let tree = store.tree(batch_id)?;
    let pdfs = batch_pdfs(store, &tree)?;
    let manifest = build_manifest(&tree, &pdfs, &store.batch_provenance(&tree.batch.id)?);
    let name = target.describe();
    let documents = pdfs.len() as u64;
    let bytes: u64 = pdfs.values().map(|(_, c)| c.bytes).sum();
    on_event(UploadEvent::Started {
        batch_id: batch_id.into(),
        target: name.clone(),
        documents,
        bytes,
    });
    let sent = Arc::new(AtomicU64::new(0));
    let mut progress = Progress {
        bytes_total: bytes,
        documents_total: documents,
        ..Progress::default()
    };
    let origin = Origin {
        audit_head: store.audit_head()?,
        ..origin(batch_id, &tree, cfg)
    };
    let known = Known {
        delivered: store.delivered_documents(batch_id, &name)?,
        verified: store.verified_documents(batch_id, &name)?,
        resend: store.unverified_documents(batch_id, &name)?,
    };
    let mut unverified = Vec::new();
    for record in &manifest.records {
        let mut package = package(&origin, record, &pdfs, cfg);
        package.resend = package
            .documents
            .iter()
            .filter(|d| known.resend.contains(&d.id))
            .map(|d| d.id.clone())
            .collect();
        let record_bytes: u64 = package.documents.iter().map(|d| d.bytes).sum();
        let before = sent.load(Ordering::Relaxed);
        let (counter, live) = (sent.clone(), live.clone());
        let sink: ProgressSink = Arc::new(move |n| {
            let now = counter.fetch_add(n, Ordering::Relaxed) + n;
            if let Some(f) = &live {
                f(now.min(before + record_bytes));
            }
        });
        unverified.extend(deliver_record(
            store, target, at, &known, &record.id, &package, &sink,
        )?);
        // Progress counts PDF bytes; a Bundle's JSON and base64 overhead is not.
        sent.store(before + record_bytes, Ordering::Relaxed);
        progress.bytes_sent = before + record_bytes;
        progress.documents_done += package.documents.len() as u64;
        on_event(UploadEvent::Progress {
            batch_id: batch_id.into(),
            progress,
        });
    }
    if let Some(first) = unverified.first() {
        return Err(UploadError::transient(format!(
            "{} document(s) did not read back from {name} as sent (first: {first}); they are flagged and sent again",
            unverified.len()
        ))
        .into());
    }
    // The chain's head goes with the batch (the folder target keeps it in
    // the manifest) and is remembered here, so a removed tail shows.
    let mut manifest = manifest;
    manifest.audit_head = store.audit_head()?;
    target.finish_batch(&manifest)?;
    if let Some(head) = &manifest.audit_head {
        store.remember_anchor(head, batch_id, &name)?;
    }
    Ok(UploadEvent::Done {
        batch_id: batch_id.into(),
        target: name,
        documents,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What the station knows of a batch at a target as its try begins: the
/// documents acknowledged and verified (with the hash sent), and those whose
/// last read-back failed.
struct Known {
    delivered: HashMap<String, String>,
    verified: HashMap<String, String>,
    resend: Vec<String>,
}

/// Sends one record unless the target acknowledged all of it, then reads
/// back what is not verified yet; returns what did not read back as sent.
fn deliver_record(
    store: &mut Store,
    target: &mut dyn Target,
    at: &Delivery<'_>,
    known: &Known,
    record_id: &str,
    package: &RecordPackage,
    sink: &ProgressSink,
) -> Result<Vec<String>, UploadWorkError> {
    let holds = |m: &HashMap<String, String>| {
        package
            .documents
            .iter()
            .all(|d| m.get(&d.id) == Some(&d.sha256))
    };
    if holds(&known.verified) {
        return Ok(Vec::new());
    }
    if !store.renew_upload_lease(at.batch_id, &at.sender.id, at.sender.lease)? {
        return Err(UploadWorkError::LostClaim {
            batch_id: at.batch_id.into(),
        });
    }
    let name = target.describe();
    if !holds(&known.delivered) {
        send_record(store, target, at.batch_id, record_id, &name, package, sink)?;
    }
    let theirs = |d: &DocumentFile| known.verified.get(&d.id) == Some(&d.sha256);
    read_back(
        store,
        target,
        (at.batch_id, at.actor),
        record_id,
        package,
        &theirs,
    )
}

/// Reads back from the store each document of a record not verified yet
/// (`verified` says which are) and keeps the receipts; returns what was
/// wrong with each that did not read back as sent.
fn read_back(
    store: &mut Store,
    target: &mut dyn Target,
    at: (&str, &Actor),
    record_id: &str,
    package: &RecordPackage,
    verified: &dyn Fn(&DocumentFile) -> bool,
) -> Result<Vec<String>, UploadWorkError> {
    let name = target.describe();
    let mut receipts = Vec::new();
    let mut wrong = Vec::new();
    for d in package.documents.iter().filter(|d| !verified(d)) {
        let back = target.read_back(at.0, d)?;
        let verdict = back.verdict(d);
        let detail = match &verdict {
            Verdict::Verified => String::new(),
            Verdict::Mismatch(why) | Verdict::Missing(why) => {
                wrong.push(format!("document {}: {why}", d.id));
                why.clone()
            }
        };
        let (read_bytes, read_sha256) = back.content.clone().unzip();
        receipts.push(Receipt {
            document_id: d.id.clone(),
            target: name.clone(),
            batch_id: at.0.to_string(),
            record_id: record_id.to_string(),
            sent_bytes: d.bytes,
            sent_sha256: d.sha256.clone(),
            read_bytes,
            read_sha256,
            location: back.location,
            content_location: back.content_location,
            version: back.version,
            etag: back.etag,
            verified: verdict == Verdict::Verified,
            detail,
            checked_at: String::new(),
        });
    }
    store.record_receipts(&receipts, at.1)?;
    Ok(wrong)
}

/// Reads every document of a delivered batch back from `target` now (a
/// batch uploaded before receipts were kept, or a check before its paper
/// goes) and keeps the receipts; a batch whose documents all verify has
/// its paper moved on. Returns what did not read back as sent (flagged:
/// such a batch's paper is not destroyed until a person resolves it).
pub fn check_receipts(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    target: &mut dyn Target,
    batch: &str,
) -> Result<Vec<String>, UploadWorkError> {
    let id = store.find_batch(batch)?.id;
    let name = target.describe();
    let sent_to = store
        .outbox_entry(&id)?
        .filter(|o| o.state == OutboxState::Done);
    match sent_to.and_then(|o| o.target) {
        Some(t) if t == name => {}
        Some(t) => {
            return Err(UploadError::Config(format!(
                "batch {id} was delivered to {t}, not to {name}: check it against the store it went to (--fhir or --folder)"
            ))
            .into());
        }
        None => return Err(UploadWorkError::NotDelivered(id)),
    }
    let tree = store.tree(&id)?;
    let pdfs = batch_pdfs(store, &tree)?;
    let manifest = build_manifest(&tree, &pdfs, &store.batch_provenance(&id)?);
    let origin = origin(&id, &tree, cfg);
    let mut wrong = Vec::new();
    for record in &manifest.records {
        let p = package(&origin, record, &pdfs, cfg);
        wrong.extend(read_back(
            store,
            target,
            (&id, actor),
            &record.id,
            &p,
            &|_| false,
        )?);
    }
    let now = crate::rfc3339(crate::paper_now());
    store.advance_paper(&id, &cfg.retention, &now, actor)?;
    Ok(wrong)
}

/// Where a batch's documents come from, as the target records it.
fn origin(batch_id: &str, tree: &BatchTree, cfg: &Config) -> Origin {
    Origin {
        batch_id: batch_id.into(),
        batch_label: tree.batch.label.clone(),
        station: tree.batch.station.clone(),
        site: cfg.site.clone(),
        scanned: tree
            .batch
            .closed
            .clone()
            .unwrap_or_else(|| tree.batch.created.clone()),
        audit_head: None,
    }
}

/// Delivers one record's documents to the target named `name` and records
/// where it stored each.
fn send_record(
    store: &mut Store,
    target: &mut dyn Target,
    batch_id: &str,
    record_id: &str,
    name: &str,
    package: &RecordPackage,
    sink: &ProgressSink,
) -> Result<(), UploadWorkError> {
    crate::upload::check_files(package)?;
    let stored = target.deliver(package, sink)?;
    let rows: Vec<(String, String, String, bool)> = stored
        .into_iter()
        .map(|s| {
            let sha = package
                .documents
                .iter()
                .find(|d| d.id == s.document_id)
                .map(|d| d.sha256.clone())
                .unwrap_or_default();
            (s.document_id, sha, s.location, s.already_there)
        })
        .collect();
    store.record_delivered(batch_id, record_id, name, &rows)?;
    Ok(())
}

fn package(
    origin: &Origin,
    record: &crate::batch::manifest::ManifestRecord,
    pdfs: &HashMap<String, (PathBuf, CachedPdf)>,
    cfg: &Config,
) -> RecordPackage {
    let documents = record
        .documents
        .iter()
        .filter_map(|d| {
            let (path, c) = pdfs.get(&d.id)?;
            Some(DocumentFile {
                id: d.id.clone(),
                doc_type: d.doc_type.clone(),
                pdf_path: path.clone(),
                sha256: c.sha256.clone(),
                sha1: c.sha1.clone(),
                bytes: c.bytes,
                pages: c.pages,
            })
        })
        .collect();
    RecordPackage {
        origin: origin.clone(),
        record: record.clone(),
        documents,
        hospital_number_system: cfg.upload.hospital_number_system.clone(),
        mhd: cfg.upload.mhd.clone(),
        resend: Vec::new(),
    }
}
