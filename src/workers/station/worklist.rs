//! The worklist thread (`folio-worklist`, only with `[worklist]`): fetches
//! the on-demand worklist from the EHR at start, every `refresh_minutes`,
//! and when asked ([`super::Command::RefreshWorklist`]), with a connection of
//! its own; each fetch, or its failure in words, is kept in the station
//! database and the window shows it again. A fetch never holds up scanning:
//! it runs here, and the window reads the kept list.

use super::Read;
use super::actor::Ctx;
use crate::upload::ehr::WorklistConfig;
use crate::workers::worklist::{self, RefreshError};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

pub(super) fn spawn(
    ctx: &Ctx,
    wl: &WorklistConfig,
    asked: Receiver<()>,
) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    let every = Duration::from_secs(u64::from(wl.refresh_minutes.max(1)) * 60);
    std::thread::Builder::new()
        .name("folio-worklist".into())
        .spawn(move || {
            let Some(mut store) = ctx.open_store() else {
                return;
            };
            loop {
                let now = time::OffsetDateTime::now_utc();
                match worklist::refresh(&mut store, &ctx.cfg, now) {
                    // A fetch that failed is kept with the list, in words.
                    Ok(()) | Err(RefreshError::Fetch(_) | RefreshError::NotConfigured) => {}
                    Err(RefreshError::Store(e)) => ctx.emit.error(e),
                }
                ctx.changed(Read::All);
                match asked.recv_timeout(every) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
}
