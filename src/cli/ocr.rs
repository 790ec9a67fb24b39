//! `folio ocr [BATCH] [--watch] [--json]`: reads the text of batches that
//! asked for it (their profile, `--ocr`, or on demand: `folio ocr BATCH`
//! asks for that batch first, as Review's "Read text" does).

use super::output::shown;
use super::{Cli, exit, open, open_as};
use crate::batch::roles::Action;
use crate::workers::ocr::{self, OcrOptions, PageRead};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct OcrArgs {
    /// Ask for this batch's text first (id or prefix).
    pub batch: Option<String>,
    /// Keep running, reading batches as they ask for text (Ctrl-C stops;
    /// the page being read is read again by the next run).
    #[arg(long)]
    pub watch: bool,
    /// One JSON object a page: {"batch", "side", "words", "error", "seconds"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, a: &OcrArgs) -> Result<u8> {
    let mut ctx = match &a.batch {
        Some(b) => open_as(cli, Action::RequestText, Some(b))?,
        None => open(cli)?,
    };
    if let Some(b) = &a.batch {
        let id = ctx.store.find_batch(b)?.id;
        let lang = ctx.cfg.ocr.language.clone();
        if !ctx
            .store
            .request_text(&id, &lang, &ctx.actor, "asked for with folio ocr")?
        {
            eprintln!("batch {id}: its text was asked for already");
        }
    }
    let opts = OcrOptions {
        watch: a.watch,
        ..Default::default()
    };
    let mut failed = 0;
    let json = a.json;
    let read = ocr::run(&mut ctx.store, &ctx.cfg, &opts, &mut |p: PageRead| {
        failed += u32::from(p.outcome.is_err());
        print_page(&p, json);
    })?;
    if !json {
        println!(
            "{read} pages read{}",
            if failed > 0 {
                format!(", {failed} without text (see above)")
            } else {
                String::new()
            }
        );
    }
    Ok(exit::OK)
}

fn print_page(p: &PageRead, json: bool) {
    if json {
        let v = serde_json::json!({
            "batch": p.batch_id,
            "side": p.side,
            "words": p.outcome.as_ref().ok(),
            "error": p.outcome.as_ref().err(),
            "seconds": (p.took.as_secs_f64() * 10.0).round() / 10.0,
        });
        println!("{v}");
        return;
    }
    let secs = p.took.as_secs_f64();
    match &p.outcome {
        Ok(n) => println!(
            "batch {} side {}: {n} words ({secs:.1} s)",
            shown(&p.batch_id),
            p.side
        ),
        Err(why) => println!(
            "batch {} side {}: no text: {}",
            shown(&p.batch_id),
            p.side,
            shown(why)
        ),
    }
}
