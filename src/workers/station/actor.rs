//! The store actor (`folio-store`): owns the station's write connection and
//! answers the window's review, close, approve and queue commands one at a
//! time, whether a scan runs or not (scans run on `folio-scanner`). After each
//! command it tells the reader which batch changed; the window is sent words
//! for its status line or a typed error.

use super::{Command, Emitter, Event, Job, Read, Session, StationError};
use crate::batch::{MoveTarget, PatientId};
use crate::config::Config;
use crate::store::{Actor, PageDecision, Store};
use crate::workers::review;
use crate::workers::scan;
use crate::workers::upload as uploader;
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;
use std::thread::JoinHandle;

/// What every station thread starts from.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub data_dir: PathBuf,
    pub cfg: Config,
    pub actor: Actor,
    pub emit: Emitter,
    pub reads: Sender<Read>,
    pub session: Session,
    /// Set when the station shuts down.
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// Tells the reader what changed (a full reader queue means a burst is
    /// being shown already: the next read covers it).
    pub fn changed(&self, r: Read) {
        if self.reads.try_send(r).is_err() {
            let _ = self.reads.try_send(Read::All);
        }
    }

    /// At an encrypted station that is locked, waits until someone signs
    /// in (and so unlocks it); false when the station, or `also`, stops first.
    pub fn wait_unlocked(&self, also: Option<&std::sync::atomic::AtomicBool>) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        while crate::store::keys::is_locked(&self.data_dir) {
            if self.stop.load(Relaxed) || also.is_some_and(|a| a.load(Relaxed)) {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        true
    }

    /// Opens the store for a worker thread, once the station is unlocked;
    /// a failure is told to the window.
    pub fn open_store(&self) -> Option<Store> {
        if !self.wait_unlocked(None) {
            return None;
        }
        match Store::open(&self.data_dir) {
            Ok(s) => Some(s),
            Err(e) => {
                self.emit.error(e);
                None
            }
        }
    }

    pub fn notice(&self, text: String) {
        self.emit.emit(Event::Notice(text));
    }

    /// This context as `actor` (who sent the command being answered).
    pub fn acting(&self, actor: Actor) -> Ctx {
        Ctx {
            actor,
            ..self.clone()
        }
    }

    /// Asks the rule whether the job's sender may do what it asks, with
    /// what the store knows (accounts, who scanned the batch).
    pub fn permit(&self, store: &Store, c: &Command) -> Result<(), StationError> {
        if let Some((action, batch)) = c.action() {
            crate::workers::access::permit(store, &self.cfg, &self.actor, action, batch)?;
        }
        Ok(())
    }
}

pub(super) fn spawn(ctx: &Ctx, commands: Receiver<Job>) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("folio-store".into())
        .spawn(move || {
            // Locked, only signing in (which unlocks) is answered.
            let first = match crate::store::keys::is_locked(&ctx.data_dir) {
                true => match until_unlocked(&ctx, &commands) {
                    Some(job) => Some(job),
                    None => return,
                },
                false => None,
            };
            let Some(mut store) = ctx.open_store() else {
                return;
            };
            for (actor, c) in first.into_iter().chain(commands) {
                let changed = batch_of(&c);
                let ctx = ctx.acting(actor);
                let done = ctx
                    .permit(&store, &c)
                    .and_then(|()| handle(&mut store, &ctx, c));
                match done {
                    Ok(()) => ctx.changed(changed),
                    Err(e) => {
                        ctx.emit.error(e);
                        // What the window shows may be stale: show it again.
                        ctx.changed(Read::All);
                    }
                }
            }
        })
}

/// Answers commands at a locked encrypted station until a sign-in unlocks
/// it: that sign-in is returned, to be checked against the store as usual.
fn until_unlocked(ctx: &Ctx, commands: &Receiver<Job>) -> Option<Job> {
    for (actor, c) in commands {
        match c {
            Command::SignIn { id, secret } => {
                match crate::store::keys::unlock(&ctx.data_dir, &id, secret.expose()) {
                    Ok(_) => return Some((actor, Command::SignIn { id, secret })),
                    Err(e) => ctx.emit.emit(Event::SignedIn(Err(e.to_string()))),
                }
            }
            _ => ctx.emit.error(crate::store::StoreError::from(
                crate::store::keys::KeyError::Locked(ctx.data_dir.clone()),
            )),
        }
    }
    None
}

/// The batch a command changes, for the reader.
fn batch_of(c: &Command) -> Read {
    match c {
        Command::CloseBatch(b)
        | Command::RetryUpload(b)
        | Command::DrawSample(b)
        | Command::RequestText(b) => Read::Batch(b.clone()),
        Command::SampleVerdict { batch, .. } => Read::Batch(batch.clone()),
        Command::RestorePage { batch, .. }
        | Command::RotatePage { batch, .. }
        | Command::FixIdentifier { batch, .. }
        | Command::DecidePage { batch, .. }
        | Command::SetExpectedSheets { batch, .. }
        | Command::ApproveBatch { batch, .. }
        | Command::ChoosePatient { batch, .. } => Read::Batch(batch.clone()),
        _ => Read::All,
    }
}

fn handle(store: &mut Store, ctx: &Ctx, c: Command) -> Result<(), StationError> {
    let (cfg, actor) = (&ctx.cfg, &ctx.actor);
    match c {
        Command::SignIn { id, secret } => sign_in(store, ctx, &id, &secret),
        Command::CloseBatch(b) => {
            let closed = scan::close(store, cfg, actor, &b)?;
            ctx.notice(format!(
                "batch closed: {} records, {} documents, {} flags",
                closed.records, closed.documents, closed.flags
            ));
        }
        Command::ApproveFlag(_)
        | Command::DrawSample(_)
        | Command::SampleVerdict { .. }
        | Command::RestorePage { .. }
        | Command::RotatePage { .. }
        | Command::FixIdentifier { .. }
        | Command::DecidePage { .. } => review_command(store, ctx, c)?,
        Command::RequestText(b) => {
            let asked = store.request_text(&b, &cfg.ocr.language, actor, "asked for in Review")?;
            let name = store.batch_name(&b)?;
            ctx.notice(if asked {
                format!("batch {name}: its text will be read after capture, page by page")
            } else {
                format!("batch {name}: its text was asked for already")
            });
        }
        Command::SetExpectedSheets { batch, sheets } => {
            store.set_expected_sheets(&batch, sheets, actor)?;
        }
        Command::ApproveBatch { batch, overrides } => {
            let done = uploader::approve(store, cfg, &batch, actor, &overrides)?;
            let a = &done.approval;
            // Queued only: the uploader (watching the outbox while on) picks
            // it up; a pause stays until the person resumes.
            ctx.notice(format!(
                "batch {} approved and queued for upload: {} records, {} documents, {} pages",
                store.batch_name(&done.batch_id)?,
                a.records,
                a.documents,
                a.pages
            ));
        }
        Command::ChoosePatient {
            batch,
            record,
            patient,
            paper,
        } => choose_patient(store, ctx, (&batch, &record), &patient, paper)?,
        Command::SaveSettings(f) => {
            ctx.emit
                .emit(Event::SettingsSaved(crate::workers::settings::save(&f)));
        }
        Command::RetryUpload(b) => {
            store.approve_batch(&b, actor, "queued again by a supervisor")?;
        }
        Command::SetPaperLocation { .. }
        | Command::PlaceHold { .. }
        | Command::LiftHold { .. }
        | Command::CertifyDestruction { .. } => paper_command(store, ctx, c)?,
        // Routed to the other threads by `Station::send`.
        Command::Refresh
        | Command::OpenBatch(_)
        | Command::BrowseBatch(_)
        | Command::Scan(_)
        | Command::RescanPage { .. }
        | Command::PauseUploads
        | Command::ResumeUploads
        | Command::RefreshWorklist
        | Command::Stats { .. } => {}
    }
    Ok(())
}

/// Where paper is, legal holds and destruction: the same calls as `folio
/// paper`, `folio hold` and `folio destruction certify`.
fn paper_command(store: &mut Store, ctx: &Ctx, c: Command) -> Result<(), StationError> {
    use crate::batch::retention::checked_text;
    let (cfg, actor) = (&ctx.cfg, &ctx.actor);
    let now = crate::rfc3339(crate::paper_now());
    let input = |r: Result<String, String>| r.map_err(StationError::Input);
    match c {
        Command::SetPaperLocation { batch, location } => {
            let location = input(checked_text("the location", &location))?;
            store.set_paper_location(&batch, &location, actor)?;
            ctx.notice(format!(
                "batch {}: paper at {}",
                store.batch_name(&batch)?,
                crate::batch::printable(&location, 80)
            ));
        }
        Command::PlaceHold {
            batch,
            record,
            kind,
            reason,
        } => {
            let reason = input(checked_text("the reason", &reason))?;
            let id = store.place_hold(&batch, record.as_deref(), kind, &reason, actor)?;
            store.advance_paper(&batch, &cfg.retention, &now, actor)?;
            ctx.notice(format!(
                "legal hold {id} placed on batch {}",
                store.batch_name(&batch)?
            ));
        }
        Command::LiftHold { id, reason } => {
            let reason = input(checked_text("the reason", &reason))?;
            let h = store.lift_hold(id, &reason, actor)?;
            store.advance_paper(&h.batch_id, &cfg.retention, &now, actor)?;
            ctx.notice(format!("legal hold {id} lifted"));
        }
        Command::CertifyDestruction {
            batches,
            method,
            witness,
            witness_secret,
        } => {
            let witness = store
                .sign_in(&cfg.station, &witness, witness_secret.expose())
                .map_err(|e| StationError::Input(format!("the witness cannot sign in: {e}")))?
                .actor;
            let req = crate::workers::destruction::CertifyRequest { batches, method };
            let done = crate::workers::destruction::certify(store, cfg, actor, &witness, &req)?;
            ctx.notice(format!(
                "certificate {} written: {} batch(es) destroyed; {}",
                done.certificate_id,
                done.register.batches.len(),
                done.pdf.display()
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Checks an operator's PIN; signed in, they act at the window from now on.
fn sign_in(store: &mut Store, ctx: &Ctx, id: &str, secret: &super::Secret) {
    let answer = store
        .sign_in(&ctx.cfg.station, id, secret.expose())
        .map(|s| s.actor)
        .map_err(|e| e.to_string());
    if let Ok(who) = &answer {
        ctx.session.set(Some(who.clone()));
    }
    ctx.emit.emit(Event::SignedIn(answer));
}

/// A supervisor's decision on one side or record of a closed batch, or on
/// a side of its sample.
fn review_command(store: &mut Store, ctx: &Ctx, c: Command) -> Result<(), StationError> {
    let (cfg, actor) = (&ctx.cfg, &ctx.actor);
    match c {
        Command::ApproveFlag(id) => {
            ctx.notice(review::approve_flag(store, actor, id)?);
        }
        Command::DrawSample(b) => {
            let s = review::draw_sample(store, cfg, actor, &b)?;
            ctx.notice(format!(
                "sample drawn for batch {}: {} sides to check",
                store.batch_name(&s.batch_id)?,
                s.sides.len()
            ));
        }
        Command::SampleVerdict {
            batch,
            side,
            failure,
        } => {
            let s = review::sample_verdict(store, cfg, actor, (&batch, side), failure.as_deref())?;
            ctx.notice(format!(
                "side {side} {}; {}",
                if failure.is_some() {
                    "failed"
                } else {
                    "passed"
                },
                s.state().words()
            ));
        }
        Command::RestorePage { batch, side } => {
            review::restore_page(store, cfg, actor, &batch, side)?;
            ctx.notice(format!("side {side} restored to its document"));
        }
        Command::RotatePage {
            batch,
            side,
            degrees,
        } => {
            let net = review::rotate_page(store, actor, &batch, side, degrees)?;
            ctx.notice(review::turned_words(side, net));
        }
        Command::FixIdentifier {
            batch,
            record,
            text,
        } => {
            let p = review::fix_identifier(store, cfg, actor, &batch, &record, &text)?;
            ctx.notice(format!("record set to {}", p.describe()));
        }
        Command::DecidePage {
            batch,
            side,
            decision,
        } => {
            review::decide_page(store, cfg, actor, &batch, side, &decision)?;
            ctx.notice(match decision {
                PageDecision::Remove => format!("side {side} removed (Restore puts it back)"),
                PageDecision::MarkRescan(why) => format!(
                    "side {side} marked for rescan: {}",
                    crate::batch::printable(&why, 80)
                ),
                PageDecision::MoveTo(MoveTarget::Document(_)) => format!("side {side} moved"),
                PageDecision::MoveTo(MoveTarget::NewRecord(p)) => {
                    format!("side {side} moved to a new record for {}", p.describe())
                }
            });
        }
        _ => {}
    }
    Ok(())
}

/// Files an on-demand record under the patient a person chose, when its
/// record sheet and the patient typed disagree. Choosing the paper's makes it
/// the batch's patient too, so the typed one stops contradicting it.
fn choose_patient(
    store: &mut Store,
    ctx: &Ctx,
    (batch, record): (&str, &str),
    patient: &PatientId,
    paper: bool,
) -> Result<(), StationError> {
    let asked = store
        .patient_mismatches()?
        .into_iter()
        .find(|m| m.batch_id == batch && m.record_id == record)
        .ok_or(StationError::NoLongerAsked)?;
    let paper_words = review::parse_identifier(&ctx.cfg, &asked.paper)
        .map(|p| p.describe())
        .unwrap_or_else(|_| format!("'{}'", crate::batch::printable(&asked.paper, 40)));
    let why = format!(
        "record {record}: the record sheet shows {paper_words}, {} was typed; chosen: {} ({})",
        asked.typed.describe(),
        patient.describe(),
        if paper { "the paper's" } else { "as typed" }
    );
    store.audit(&ctx.actor, "record.patient_chosen", batch, &why)?;
    if paper {
        store.change_batch_patient(batch, patient, &ctx.actor, &why)?;
    }
    let number = match patient {
        PatientId::Nhs { number, .. } | PatientId::Hospital { number } => number,
    };
    review::fix_identifier(store, &ctx.cfg, &ctx.actor, batch, record, number)?;
    ctx.notice(format!("record filed under {}", patient.describe()));
    Ok(())
}
