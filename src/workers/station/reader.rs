//! The reader (`folio-reader`): what the window shows, read from a WAL
//! connection of its own, so reading never waits for the store actor or a
//! scan. Changes arrive as [`Read`] notes; a burst of them (a person clicking
//! through flags, a scan ending) becomes one snapshot, and the per-batch facts
//! (documents to move pages into, what the approval rule knows) are read again
//! only for the batches that changed.

use super::actor::Ctx;
use super::{Event, Read, Snapshot, StationError};
use crate::batch::approval::ApprovalFacts;
use crate::store::{BatchRow, DocChoice, Store};
use crate::workers::worklist;
use crate::workers::{access, review};
use crossbeam_channel::Receiver;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;

pub(super) fn spawn(ctx: &Ctx, reads: Receiver<Read>) -> std::io::Result<JoinHandle<()>> {
    // Without a sender of its own queue, which closes when the others end.
    let ctx = Ctx {
        reads: crossbeam_channel::bounded(0).0,
        ..ctx.clone()
    };
    std::thread::Builder::new()
        .name("folio-reader".into())
        .spawn(move || {
            let Some(store) = ctx.open_store() else {
                return;
            };
            let mut reader = Reader::new(store, &ctx);
            while let Ok(first) = reads.recv() {
                // The whole burst waiting, shown once.
                let burst: Vec<Read> = std::iter::once(first).chain(reads.try_iter()).collect();
                if let Err(e) = reader.apply(&ctx, burst) {
                    ctx.emit.error(e);
                }
            }
        })
}

/// What the reader keeps between snapshots.
struct Reader {
    store: Store,
    devices: Vec<String>,
    profiles: Vec<String>,
    /// Where uploads go, in words (worked out once: the configuration does
    /// not change while the station runs).
    upload_target: String,
    documents: HashMap<String, Vec<DocChoice>>,
    approval: HashMap<String, ApprovalFacts>,
    samples: HashMap<String, crate::store::Sample>,
    /// The batch whose every side Review is going through.
    browsing: Option<String>,
    /// The cache's disk usage and when it was measured (walking the image
    /// folder is slow: once a minute at most).
    disk: Option<(std::time::Instant, crate::store::DiskUsage)>,
    /// What protects the data folder at rest (read once: a disk does not
    /// change under a running station).
    at_rest: crate::store::at_rest::AtRest,
    /// Folio's own encryption, in words (read once).
    encryption: Option<String>,
}

impl Reader {
    fn new(store: Store, ctx: &Ctx) -> Reader {
        let upload_target = crate::upload::target(&ctx.cfg.upload, store.data_dir())
            .map(|t| t.describe())
            .unwrap_or_else(|e| e.to_string());
        let at_rest = crate::store::at_rest::at_rest(store.data_dir());
        let encryption = store.encryption_words();
        Reader {
            encryption,
            store,
            devices: Vec::new(),
            profiles: ctx.cfg.profiles().keys().cloned().collect(),
            upload_target,
            documents: HashMap::new(),
            approval: HashMap::new(),
            samples: HashMap::new(),
            browsing: None,
            disk: None,
            at_rest,
        }
    }

    /// The cache's disk usage, measured again when a minute old.
    fn disk(&mut self) -> crate::store::DiskUsage {
        let stale = self
            .disk
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() > std::time::Duration::from_secs(60));
        if stale {
            self.disk = Some((std::time::Instant::now(), self.store.disk_usage()));
        }
        self.disk.map(|(_, d)| d).unwrap_or_default()
    }

    fn apply(&mut self, ctx: &Ctx, burst: Vec<Read>) -> Result<(), StationError> {
        let mut changed = HashSet::new();
        let mut all = false;
        let mut snapshot = false;
        for r in burst {
            match r {
                Read::All => (all, snapshot) = (true, true),
                Read::Batch(b) => {
                    changed.insert(b);
                    snapshot = true;
                }
                Read::Devices(d) => (self.devices, snapshot) = (d, true),
                Read::Browse(b) => (self.browsing, snapshot) = (b, true),
                Read::Tree(b) => {
                    let tree = self.store.tree(&b)?;
                    ctx.emit.emit(Event::Tree(Box::new(tree)));
                }
                Read::Stats { from, to } => self.stats(ctx, from, to)?,
            }
        }
        if snapshot {
            self.snapshot(ctx, if all { None } else { Some(&changed) })?;
        }
        Ok(())
    }

    /// Reads everything the window lists, and the per-batch facts of the
    /// `changed` batches (all of them when None) and of batches newly in
    /// review.
    fn snapshot(
        &mut self,
        ctx: &Ctx,
        changed: Option<&HashSet<String>>,
    ) -> Result<(), StationError> {
        let batches = self.store.list_batches()?;
        let reviewed: Vec<&BatchRow> = batches.iter().filter(|b| in_review(b)).collect();
        self.documents
            .retain(|id, _| reviewed.iter().any(|b| &b.id == id));
        self.approval
            .retain(|id, _| reviewed.iter().any(|b| &b.id == id));
        self.samples
            .retain(|id, _| reviewed.iter().any(|b| &b.id == id));
        for b in reviewed {
            let stale =
                changed.is_none_or(|c| c.contains(&b.id)) || !self.approval.contains_key(&b.id);
            if stale {
                self.documents
                    .insert(b.id.clone(), self.store.document_choices(&b.id)?);
                self.approval.insert(
                    b.id.clone(),
                    access::approval_facts(&self.store, &ctx.cfg, &b.id)?,
                );
                match self.store.sample(&b.id)? {
                    Some(s) => self.samples.insert(b.id.clone(), s),
                    None => self.samples.remove(&b.id),
                };
            }
        }
        let mismatches = self
            .store
            .patient_mismatches()?
            .into_iter()
            .map(|m| {
                let paper = review::parse_identifier(&ctx.cfg, &m.paper).ok();
                (m, paper)
            })
            .collect();
        let names = crate::batch::short_names(batches.iter().map(|b| b.id.as_str()));
        // Accounts made while the window runs (`folio operators init`) end
        // the demo account's free hand at once.
        let accounts = self.store.has_operators()?;
        ctx.session.set_accounts(accounts);
        let outbox = self.store.outbox()?;
        let receipts = self.receipts(&outbox)?;
        let now = crate::rfc3339(crate::paper_now());
        let paper = crate::workers::destruction::paper_rows(&self.store, &now)?;
        let holds = self.store.legal_holds(None, false)?;
        let mut certificates = self.store.destruction_register()?;
        certificates.reverse();
        certificates.truncate(20);
        let disk = Some(self.disk());
        let s = Snapshot {
            at_rest: Some(self.at_rest.clone()),
            encryption: self.encryption.clone(),
            worklist: worklist::view(&self.store, &ctx.cfg, time::OffsetDateTime::now_utc())?
                .map(Arc::new),
            paper,
            holds,
            certificates,
            disk,
            accounts,
            names,
            batches,
            documents: self.documents.clone(),
            approval: self.approval.clone(),
            samples: self.samples.clone(),
            mismatches,
            review: Arc::new(self.store.review_queue()?),
            outbox,
            receipts,
            devices: self.devices.clone(),
            profiles: self.profiles.clone(),
            upload_target: self.upload_target.clone(),
        };
        ctx.emit.emit(Event::Snapshot(Box::new(s)));
        if let Some(batch) = &self.browsing {
            let items = self.store.batch_pages(batch)?;
            ctx.emit.emit(Event::Pages {
                batch: batch.clone(),
                items: Arc::new(items),
            });
        }
        Ok(())
    }
}

impl Reader {
    /// The newest read-backs of the newest batches in the outbox.
    fn receipts(
        &self,
        outbox: &[crate::store::OutboxRow],
    ) -> Result<HashMap<String, Vec<crate::store::Receipt>>, StationError> {
        let mut receipts = HashMap::new();
        let mut newest: Vec<&crate::store::OutboxRow> = outbox.iter().collect();
        newest.sort_by(|a, b| b.queued_at.cmp(&a.queued_at));
        for r in newest.into_iter().take(super::RECEIPT_BATCHES) {
            receipts.insert(r.batch_id.clone(), self.store.latest_receipts(&r.batch_id)?);
        }
        Ok(receipts)
    }
}

/// Batches whose pages Review works on (closed, or with flags to decide).
fn in_review(b: &BatchRow) -> bool {
    crate::batch::rules::may_review(b.state)
}

impl Reader {
    /// The figures of the batches started from `from` to `to`, for the
    /// Statistics screen (which checks the range before asking).
    fn stats(&self, ctx: &Ctx, from: time::Date, to: time::Date) -> Result<(), StationError> {
        use crate::batch::stats::{DateRange, overview};
        let range = match DateRange::new(from, to) {
            Ok(r) => r,
            Err(e) => {
                ctx.emit.emit(Event::Notice(format!("no statistics: {e}")));
                return Ok(());
            }
        };
        let facts = self.store.stats_facts(range)?;
        let target = ctx.cfg.stats.target_sheets_per_day;
        ctx.emit
            .emit(Event::Stats(Box::new(overview(&facts, range, target))));
        Ok(())
    }
}
