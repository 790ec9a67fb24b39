//! `folio approve` and `folio upload`: the outbox from the command line.

use super::{Ctx, exit};
use crate::batch::approval::Overrides;
use crate::batch::{OutboxState, printable};
use crate::upload;
use crate::workers::upload::{self as worker, UploadEvent, UploadOptions};
use anyhow::Result;
use std::sync::Arc;

pub fn approve(ctx: &mut Ctx, batch: &str, overrides: &Overrides) -> Result<u8> {
    // The rule's words name no flags (the window shows them too); here the
    // command line says how it takes an override.
    let hint = |e: &worker::UploadWorkError| match e {
        worker::UploadWorkError::Refused { why, .. } => why.cli_hint(),
        _ => None,
    };
    let done =
        worker::approve(&mut ctx.store, &ctx.cfg, batch, &ctx.actor, overrides).map_err(|e| {
            match hint(&e) {
                Some(h) => anyhow::anyhow!("{e} ({h})"),
                None => e.into(),
            }
        })?;
    let a = &done.approval;
    eprintln!(
        "batch {} approved and queued for upload (`folio upload` sends it): {} records, {} documents, {} pages",
        done.batch_id, a.records, a.documents, a.pages
    );
    for o in &a.overridden {
        eprintln!("  override: {}", printable(o, 600));
    }
    println!("{}", done.batch_id);
    Ok(exit::OK)
}

pub fn list(ctx: &Ctx, json: bool) -> Result<u8> {
    let rows = ctx.store.outbox()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("the upload queue is empty (`folio approve BATCH` adds to it)");
    }
    for r in rows {
        let note = match r.state {
            OutboxState::Done => format!(
                "delivered {} to {}",
                r.done_at.unwrap_or_default(),
                r.target.unwrap_or_default()
            ),
            OutboxState::Queued if r.attempts > 0 => format!(
                "try {} at {}: {}",
                r.attempts + 1,
                r.next_attempt_at,
                r.last_error.unwrap_or_default()
            ),
            OutboxState::Queued => "waiting".into(),
            _ => r.last_error.unwrap_or_default(),
        };
        println!(
            "{}  {:<8}  {:<24}  {}",
            r.batch_id,
            r.state.as_str(),
            printable(&r.label, 60),
            printable(&note, 2000)
        );
    }
    Ok(exit::OK)
}

pub fn upload(ctx: &mut Ctx, batch: Option<String>, watch: bool, json: bool) -> Result<u8> {
    let dir = ctx.store.data_dir().to_path_buf();
    let mut target = upload::target(&ctx.cfg.upload, &dir)?;
    let where_to = target.describe();
    if !json {
        eprintln!("delivering to {where_to}");
    }
    for w in target.warnings() {
        eprintln!("warning: {w}");
    }
    let bar = byte_bar(json);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    let live_bar = bar.clone();
    let opts = UploadOptions {
        batch,
        watch,
        stop,
        live: Some(Arc::new(move |n| live_bar.set_position(n))),
    };
    let mut parked = 0;
    let done = worker::run(
        &mut ctx.store,
        &ctx.cfg,
        &ctx.actor,
        target.as_mut(),
        &opts,
        &mut |e| show_event(&bar, e, &mut parked),
    );
    bar.finish_and_clear();
    let done = done?;
    if json {
        let summary = serde_json::json!({
            "target": where_to,
            "uploaded": done,
            "parked": parked,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if done.is_empty() && parked == 0 {
        eprintln!(
            "nothing to upload (`folio approve BATCH` queues a batch; `folio upload --list` shows the queue)"
        );
    }
    Ok(if parked > 0 {
        exit::UPLOAD_PARKED
    } else {
        exit::OK
    })
}

/// The progress bar of a delivery, in bytes (hidden for `--json`).
fn byte_bar(json: bool) -> indicatif::ProgressBar {
    let bar = super::output::progress_bar(json);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// Shows one uploader event on the bar or, above it, on stderr; counts the
/// batches parked.
fn show_event(bar: &indicatif::ProgressBar, e: UploadEvent, parked: &mut usize) {
    match e {
        UploadEvent::Started {
            batch_id, bytes, ..
        } => {
            bar.set_length(bytes);
            bar.set_position(0);
            bar.set_message(format!("batch {batch_id}"));
        }
        UploadEvent::Progress { progress, .. } => bar.set_position(progress.bytes_sent),
        UploadEvent::Retrying {
            batch_id,
            attempt,
            wait,
            why,
        } => bar.suspend(|| {
            eprintln!(
                "batch {batch_id}: try {attempt} failed: {}; next try in {:.1} s",
                printable(&why, 2000),
                wait.as_secs_f64()
            )
        }),
        UploadEvent::Parked {
            batch_id,
            state,
            why,
        } => {
            *parked += 1;
            bar.suspend(|| eprintln!("batch {batch_id} {state}: {}", printable(&why, 2000)))
        }
        UploadEvent::WaitingForText { batch_id, why } => {
            bar.suspend(|| eprintln!("batch {batch_id}: {}", printable(&why, 2000)))
        }
        UploadEvent::HeldElsewhere {
            batch_id,
            owner,
            until,
        } => bar.suspend(|| {
            eprintln!(
                "batch {batch_id} is being sent by {}{}: left to it",
                printable(&owner, 120),
                if until.is_empty() {
                    String::new()
                } else {
                    format!(" (its claim runs to {until})")
                }
            )
        }),
        UploadEvent::Done {
            batch_id,
            documents,
            bytes,
            seconds,
            target,
        } => bar.suspend(|| {
            eprintln!(
                "batch {batch_id}: {documents} documents, {:.1} MB delivered to {target} in {seconds:.1} s",
                bytes as f64 / 1e6
            )
        }),
    }
}

/// The chain against the newest head the central store keeps (a folder
/// target's manifests; the Provenance of the newest record delivered to a
/// FHIR server): words to add to `folio check`'s line, or why the chain does
/// not match. A server that cannot be reached is said, not an error: the
/// anchors remembered here were compared already.
pub fn central_anchor(ctx: &Ctx) -> Result<String> {
    if let Some(url) = &ctx.cfg.upload.fhir_url {
        return fhir_anchor(ctx, url);
    }
    let Some(folder) = &ctx.cfg.upload.folder else {
        return Ok(String::new());
    };
    let target = upload::folder::FolderTarget::new(folder.clone());
    let Some((head, path)) = target.newest_anchor().map_err(|e| {
        anyhow::anyhow!(
            "cannot read the central store's manifests in {}: {e}",
            super::output::shown_path(folder)
        )
    })?
    else {
        return Ok(String::new());
    };
    let whence = format!(
        "kept by the central store in {}",
        super::output::shown_path(&path)
    );
    compare(ctx, &head, &whence)
}

fn compare(ctx: &Ctx, head: &crate::batch::manifest::AuditHead, whence: &str) -> Result<String> {
    match ctx.store.against_anchor(head, whence)? {
        Some(why) => Err(crate::store::StoreError::Damaged(why).into()),
        None => Ok(format!(
            "; it holds event {} as the central store keeps it",
            head.seq
        )),
    }
}

fn fhir_anchor(ctx: &Ctx, url: &str) -> Result<String> {
    let Some((batch, record)) = ctx.store.newest_delivery()? else {
        return Ok(String::new());
    };
    let asked = upload::fhir::FhirTarget::new(url, &ctx.cfg.upload)
        .and_then(|t| t.provenance_anchor(&batch, &record));
    match asked {
        Ok(Some(head)) => {
            let whence = format!(
                "kept by the FHIR server in the Provenance of record {}",
                printable(&record, 80)
            );
            compare(ctx, &head, &whence)
        }
        // Delivered before Provenances carried the head.
        Ok(None) => Ok(String::new()),
        Err(e) => Ok(format!(
            "; the FHIR server was not asked for its copy ({})",
            printable(&e.to_string(), 300)
        )),
    }
}

/// `folio receipts`: see [`super::Command::Receipts`].
#[derive(clap::Args, Debug)]
pub struct ReceiptsArgs {
    /// Batch id or prefix.
    pub batch: String,
    /// Every read-back, oldest first, not just the newest of each document.
    #[arg(long)]
    all: bool,
    /// Read every document back from the store now (a supervisor) and
    /// keep the receipts: for a batch uploaded before receipts were
    /// kept, or a last check before its paper goes.
    #[arg(long)]
    check: bool,
    /// With --check: the FHIR server the batch went to (else config).
    #[arg(long)]
    fhir: Option<String>,
    /// With --check: the folder the batch went to (else config).
    #[arg(long)]
    folder: Option<std::path::PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn receipts_cmd(cli: &super::Cli, a: &ReceiptsArgs) -> Result<u8> {
    if a.check {
        check_receipts(cli, &a.batch, a.fhir.as_deref(), a.folder.as_deref())?;
    }
    let ctx = super::open(cli)?;
    let id = ctx.store.find_batch(&a.batch)?.id;
    let rows = match a.all {
        true => ctx.store.receipts(&id)?,
        false => ctx.store.latest_receipts(&id)?,
    };
    super::output::receipts(&rows, a.json)?;
    Ok(exit::OK)
}

/// `folio receipts BATCH --check`: reads every document of a delivered batch
/// back from the store it went to (a supervisor), and says what did not
/// read back as sent.
pub fn check_receipts(
    cli: &super::Cli,
    batch: &str,
    fhir: Option<&str>,
    folder: Option<&std::path::Path>,
) -> Result<()> {
    let mut ctx = super::open_as(cli, crate::batch::roles::Action::ManageUploads, None)?;
    if let Some(url) = fhir {
        ctx.cfg.upload.send_to_fhir(url);
    }
    if let Some(dir) = folder {
        ctx.cfg.upload.send_to_folder(dir);
    }
    let dir = ctx.store.data_dir().to_path_buf();
    let mut target = upload::target(&ctx.cfg.upload, &dir)?;
    let wrong =
        worker::check_receipts(&mut ctx.store, &ctx.cfg, &ctx.actor, target.as_mut(), batch)?;
    for w in &wrong {
        eprintln!("NOT VERIFIED: {}", printable(w, 1000));
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "{} document(s) did not read back from {} as sent: they are flagged, and the batch's paper is not destroyed until a person resolves it",
            wrong.len(),
            target.describe()
        );
    }
    Ok(())
}
