//! The paper's life from the command line (issue 18): `folio paper` records
//! where a batch's paper is, `folio hold` places, lifts and lists legal
//! holds, `folio destruction` lists what may go and certifies a
//! destruction with two people. The rules are [`crate::batch::retention`]'s,
//! the same the Destruction screen asks.

use super::output::{shown, shown_long};
use super::{Cli, exit, open, open_as};
use crate::batch::bytes_words;
use crate::batch::retention::{HoldKind, checked_text};
use crate::batch::roles::Action;
use crate::store::Actor;
use crate::workers::destruction::{self, CertifyRequest};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::IsTerminal;

#[derive(Args, Debug)]
pub struct PaperArgs {
    /// Batch id or prefix.
    batch: String,
    /// Where the paper is: a box or trolley label (scanned from its barcode
    /// or typed).
    #[arg(long)]
    location: String,
}

/// Records where a batch's paper is.
pub fn paper(cli: &Cli, a: &PaperArgs) -> Result<u8> {
    let mut ctx = open_as(cli, Action::RecordPaperLocation, None)?;
    let location = checked_text("the location", &a.location).map_err(anyhow::Error::msg)?;
    let id = ctx.store.find_batch(&a.batch)?.id;
    ctx.store.set_paper_location(&id, &location, &ctx.actor)?;
    println!("batch {id}: paper at {}", shown(&location));
    Ok(exit::OK)
}

#[derive(Args, Debug)]
pub struct HoldArgs {
    #[command(subcommand)]
    command: HoldCommand,
}

#[derive(Subcommand, Debug)]
enum HoldCommand {
    /// Place a legal hold on a batch, or on one of its records: its paper is
    /// not destroyed until the hold is lifted.
    Place {
        /// Batch id or prefix.
        batch: String,
        /// Only this record (its id, from `folio show BATCH`).
        #[arg(long)]
        record: Option<String>,
        /// litigation, complaint, inquiry or clinical_query.
        #[arg(long)]
        kind: String,
        /// Why, in words (a claim's reference, an inquiry's instruction).
        #[arg(long)]
        reason: String,
    },
    /// Lift a legal hold (its number from `folio hold list`).
    Lift {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// List legal holds in force (all, lifted too, with --all).
    List {
        /// Batch id or prefix.
        batch: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn hold(cli: &Cli, a: &HoldArgs) -> Result<u8> {
    match &a.command {
        HoldCommand::Place {
            batch,
            record,
            kind,
            reason,
        } => {
            let kind = HoldKind::parse(kind).with_context(|| {
                format!(
                    "'{}' is not a kind of hold: litigation, complaint, inquiry or clinical_query",
                    shown(kind)
                )
            })?;
            let reason = checked_text("the reason", reason).map_err(anyhow::Error::msg)?;
            let mut ctx = open_as(cli, Action::LegalHold, None)?;
            let id = ctx.store.find_batch(batch)?.id;
            let n = ctx
                .store
                .place_hold(&id, record.as_deref(), kind, &reason, &ctx.actor)?;
            // A batch due for destruction is held again at once.
            let now = crate::rfc3339(crate::paper_now());
            ctx.store
                .advance_paper(&id, &ctx.cfg.retention, &now, &ctx.actor)?;
            println!("legal hold {n} placed on batch {id}");
        }
        HoldCommand::Lift { id, reason } => {
            let reason = checked_text("the reason", reason).map_err(anyhow::Error::msg)?;
            let mut ctx = open_as(cli, Action::LegalHold, None)?;
            let h = ctx.store.lift_hold(*id, &reason, &ctx.actor)?;
            let now = crate::rfc3339(crate::paper_now());
            ctx.store
                .advance_paper(&h.batch_id, &ctx.cfg.retention, &now, &ctx.actor)?;
            println!("legal hold {id} on batch {} lifted", h.batch_id);
        }
        HoldCommand::List { batch, all, json } => {
            let ctx = open(cli)?;
            let id = match batch {
                Some(b) => Some(ctx.store.find_batch(b)?.id),
                None => None,
            };
            let holds = ctx.store.legal_holds(id.as_deref(), *all)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&holds)?);
                return Ok(exit::OK);
            }
            for h in holds {
                let on = h
                    .record_id
                    .as_deref()
                    .map(|r| format!("record {}", shown(r)));
                let state = match (&h.lifted_at, &h.lift_reason) {
                    (Some(at), why) => format!(
                        "lifted {} by {}: {}",
                        shown(at),
                        shown(h.lifted_by.as_deref().unwrap_or("")),
                        shown_long(why.as_deref().unwrap_or(""))
                    ),
                    (None, _) => "in force".into(),
                };
                let fields = [
                    h.id.to_string(),
                    shown(&h.batch_id),
                    on.unwrap_or_else(|| "whole batch".into()),
                    shown(&h.kind),
                    shown_long(&h.reason),
                    format!("placed {} by {}", shown(&h.placed_at), shown(&h.placed_by)),
                    state,
                ];
                println!("{}", fields.join("\t"));
            }
        }
    }
    Ok(exit::OK)
}

#[derive(Args, Debug)]
pub struct DestructionArgs {
    #[command(subcommand)]
    command: DestructionCommand,
}

#[derive(Subcommand, Debug)]
enum DestructionCommand {
    /// List the batches whose paper is due for destruction, grouped by
    /// where the paper is, with anything that still stops one.
    Due {
        #[arg(long)]
        json: bool,
    },
    /// Certify the destruction of batches' paper: a supervisor (signed in
    /// with --operator) authorises, a second person witnesses (--witness,
    /// their PIN in FOLIO_WITNESS_PIN or typed). Writes the certificate
    /// (PDF and JSON) and enters it in the destruction register.
    Certify {
        /// Batch ids or prefixes, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        batches: Vec<String>,
        /// How the paper is destroyed ("cross-cut shredding, contractor X").
        #[arg(long)]
        method: String,
        /// The witness's account id.
        #[arg(long)]
        witness: String,
        #[arg(long)]
        json: bool,
    },
    /// Writes a copy of a certificate (its PDF and JSON) into DIR, to print
    /// or file (at an encrypted station the station keeps them sealed).
    Certificate {
        /// The certificate's id, or the start of it.
        id: String,
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// The destruction register, oldest first, its chain checked.
    Register {
        #[arg(long)]
        json: bool,
    },
}

pub fn destruction(cli: &Cli, a: &DestructionArgs) -> Result<u8> {
    match &a.command {
        DestructionCommand::Due { json } => due(cli, *json)?,
        DestructionCommand::Certify {
            batches,
            method,
            witness,
            json,
        } => {
            let mut ctx = open_as(cli, Action::CertifyDestruction, None)?;
            let witness = witness_actor(&mut ctx.store, &ctx.cfg, witness)?;
            let req = CertifyRequest {
                batches: batches.clone(),
                method: method.clone(),
            };
            let done = destruction::certify(&mut ctx.store, &ctx.cfg, &ctx.actor, &witness, &req)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                println!(
                    "certificate {}: {} batch(es) destroyed\n  {} (SHA-256 {})\n  {} (SHA-256 {})\n  register entry {}",
                    done.certificate_id,
                    done.register.batches.len(),
                    done.pdf.display(),
                    done.pdf_sha256,
                    done.json.display(),
                    done.json_sha256,
                    done.register.seq
                );
            }
        }
        DestructionCommand::Register { json } => register(cli, *json)?,
        DestructionCommand::Certificate { id, out } => certificate_copy(cli, id, out)?,
    }
    Ok(exit::OK)
}

/// Batches due for destruction, by where their paper is.
fn due(cli: &Cli, json: bool) -> Result<()> {
    let mut ctx = open(cli)?;
    let groups = destruction::due(&mut ctx.store, &ctx.cfg, &ctx.actor)?;
    if json {
        let v: Vec<_> = groups
            .iter()
            .map(|(place, b)| serde_json::json!({"paper_location": place, "batches": b}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if groups.is_empty() {
        println!("no paper is due for destruction");
    }
    for (place, batches) in groups {
        println!("{}", shown(&place));
        for b in batches {
            let why: Vec<String> = b.refusals.iter().map(ToString::to_string).collect();
            let verdict = match why.is_empty() {
                true => "may go".to_string(),
                false => format!("STOPPED: {}", why.join("; ")),
            };
            println!(
                "  {}\t{}\t{} records, {} documents\theld until {}\t{verdict}",
                b.batch_id,
                shown(&b.label),
                b.records,
                b.documents,
                b.hold_until.as_deref().map(shown).unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// The destruction register, its chain checked first.
fn register(cli: &Cli, json: bool) -> Result<()> {
    let ctx = open(cli)?;
    ctx.store.check_register()?;
    let entries = ctx.store.destruction_register()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    for e in entries {
        println!(
            "{}\t{}\t{}\tauthorised by {}\twitnessed by {}\t{} batch(es)\t{}\tPDF {}\tJSON {}",
            e.seq,
            shown(&e.at),
            e.certificate_id,
            shown(&e.authorised_by),
            shown(&e.witness),
            e.batches.len(),
            shown_long(&e.method),
            e.pdf_sha256,
            e.json_sha256
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
#[group(required = true, multiple = true, id = "what")]
pub struct PurgeArgs {
    /// Purge the page images and PDFs of batches whose paper was destroyed
    /// (their rows, hashes and receipts stay).
    #[arg(long, group = "what")]
    destroyed: bool,
    /// Also those of on-demand batches whose documents have all been
    /// verified in the store for `[retention] on_demand_purge_days`.
    #[arg(long, group = "what")]
    on_demand: bool,
    #[arg(long)]
    json: bool,
}

/// Frees the cache of what destroyed batches no longer need.
pub fn purge(cli: &Cli, a: &PurgeArgs) -> Result<u8> {
    let mut ctx = open_as(cli, Action::PurgeCache, None)?;
    let (now, retention) = (crate::paper_now(), ctx.cfg.retention.clone());
    let done = ctx.store.purge(&retention, now, a.on_demand, &ctx.actor)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        println!(
            "purged {} pages of {} batch(es): {} files, {}",
            done.pages,
            done.batches,
            done.files,
            bytes_words(done.bytes)
        );
    }
    Ok(exit::OK)
}

/// The station at a glance: batches by state, the upload queue, paper due
/// and held, legal holds, and what the cache takes on disk.
pub fn status(cli: &Cli, json: bool) -> Result<u8> {
    let mut ctx = open(cli)?;
    let now = crate::rfc3339(crate::paper_now());
    ctx.store
        .advance_all_paper(&ctx.cfg.retention, &now, &ctx.actor)?;
    let mut states: std::collections::BTreeMap<&str, u32> = Default::default();
    let batches = ctx.store.list_batches()?;
    for b in &batches {
        *states.entry(b.state.as_str()).or_default() += 1;
    }
    let outbox = ctx.store.outbox()?;
    let waiting = outbox
        .iter()
        .filter(|o| o.state != crate::batch::OutboxState::Done)
        .count();
    let holds = ctx.store.legal_holds(None, false)?.len();
    let disk = ctx.store.disk_usage();
    let text_waiting = ctx.store.text_backlog()?;
    let at_rest = crate::store::at_rest::at_rest(ctx.store.data_dir());
    if json {
        let v = serde_json::json!({
            "station": ctx.cfg.station,
            "at_rest": at_rest,
            "require_encrypted_disk": ctx.cfg.require_encrypted_disk,
            "encryption": ctx.store.encryption_words(),
            "batches": states,
            "uploads_waiting": waiting,
            "text_pages_waiting": text_waiting,
            "legal_holds": holds,
            "disk": disk,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(exit::OK);
    }
    let by_state: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("station {}", shown(&ctx.cfg.station));
    println!(
        "batches: {}",
        if by_state.is_empty() {
            "none".into()
        } else {
            by_state.join(", ")
        }
    );
    println!(
        "uploads waiting: {waiting}; pages waiting for their text (OCR): {text_waiting}; legal holds in force: {holds}"
    );
    println!(
        "cache: page images {} ({} files), database {}, other {}; {} free on this disk",
        bytes_words(disk.images_bytes),
        disk.files,
        bytes_words(disk.database_bytes),
        bytes_words(disk.other_bytes),
        bytes_words(disk.free_bytes)
    );
    println!(
        "data folder {}: {}{}",
        super::output::shown_path(ctx.store.data_dir()),
        at_rest.words(),
        match (
            ctx.cfg.require_encrypted_disk,
            crate::batch::at_rest::may_store_scans(
                ctx.cfg.require_encrypted_disk,
                ctx.store.keys().is_some(),
                &at_rest,
                "",
            )
            .is_err()
        ) {
            (true, true) => "; scanning is refused here (require_encrypted_disk)",
            (true, false) => "; required (require_encrypted_disk)",
            (false, _) => "",
        }
    );
    println!(
        "station data: {}",
        ctx.store
            .encryption_words()
            .unwrap_or_else(|| "not encrypted by Folio (`folio encrypt` turns it on)".into())
    );
    Ok(exit::OK)
}

/// `folio destruction certificate ID --out DIR`: the certificate's PDF and
/// JSON, opened at an encrypted station, written whole into DIR.
fn certificate_copy(cli: &Cli, id: &str, out: &std::path::Path) -> Result<()> {
    let ctx = open_as(cli, Action::Export, None)?;
    let dir = ctx.store.root().join("certificates");
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(id) && !id.is_empty())
    });
    found.sort();
    if found.is_empty() {
        anyhow::bail!(
            "no certificate {} at this station: `folio destruction register` lists them",
            shown(id)
        );
    }
    for path in &found {
        let bytes = crate::store::images::read_file(path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let to =
            crate::durable::write_atomic(out, &name, |f| std::io::Write::write_all(f, &bytes))?;
        println!("{}", super::output::shown_path(&to));
    }
    Ok(())
}

/// The witness, signed in with their own PIN (`FOLIO_WITNESS_PIN`, else
/// typed on the terminal).
fn witness_actor(
    store: &mut crate::store::Store,
    cfg: &crate::config::Config,
    id: &str,
) -> Result<Actor> {
    let pin = match std::env::var("FOLIO_WITNESS_PIN") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("PIN for the witness {}: ", shown(id)))
                .context("cannot read the witness's PIN from the terminal")?
        }
        Err(_) => bail!(
            "the witness signs in too: their PIN in FOLIO_WITNESS_PIN, or run on a terminal to be asked"
        ),
    };
    Ok(store.sign_in(&cfg.station, id, &pin)?.actor)
}
