//! The uploader (`folio-upload`): works off the outbox while uploads are on,
//! with its own connection, watching for batches as they are approved. `true`
//! on its channel turns uploads on, `false` pauses them after the current
//! record; a closed channel ends the thread. A target that cannot be set up
//! pauses uploads until they are resumed.

use super::actor::Ctx;
use super::{Event, Read, StationError};
use crate::store::Store;
use crate::workers::upload::{self as uploader, UploadEvent, UploadOptions, UploadWorkError};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub(super) fn spawn(ctx: &Ctx, switch: Receiver<bool>) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("folio-upload".into())
        .spawn(move || {
            let mut on = true;
            loop {
                while !on {
                    match switch.recv() {
                        Ok(v) => on = v,
                        Err(_) => return,
                    }
                }
                ctx.emit.emit(Event::UploadsRunning(true));
                let closing = run_while_on(&ctx, &switch, &mut on);
                ctx.emit.emit(Event::UploadsRunning(false));
                if closing {
                    return;
                }
            }
        })
}

/// Uploads until paused, the channel closes (true: the station is closing)
/// or the uploader stops on an error (which pauses uploads).
fn run_while_on(ctx: &Ctx, switch: &Receiver<bool>, on: &mut bool) -> bool {
    let stop = Arc::new(AtomicBool::new(false));
    let mut closing = false;
    std::thread::scope(|sc| {
        let run = sc.spawn(|| upload_until_stopped(ctx, stop.clone()));
        loop {
            match switch.recv_timeout(Duration::from_millis(200)) {
                Ok(true) => {}
                Ok(false) => *on = false,
                Err(RecvTimeoutError::Disconnected) => (*on, closing) = (false, true),
                Err(RecvTimeoutError::Timeout) if run.is_finished() => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !*on {
                stop.store(true, Ordering::SeqCst);
                break;
            }
        }
        if let Ok(Err(e)) = run.join() {
            ctx.emit.error(StationError::UploadsPaused(e));
            *on = false;
        }
    });
    closing
}

fn upload_until_stopped(ctx: &Ctx, stop: Arc<AtomicBool>) -> Result<(), UploadWorkError> {
    if !ctx.wait_unlocked(Some(&stop)) {
        return Ok(());
    }
    let mut store = Store::open(&ctx.data_dir)?;
    let mut target = crate::upload::target(&ctx.cfg.upload, &ctx.data_dir)?;
    for w in target.warnings() {
        tracing::warn!("{w}");
    }
    let live = ctx.emit.clone();
    let opts = UploadOptions {
        batch: None,
        watch: true,
        stop,
        live: Some(Arc::new(move |n| live.offer(Event::UploadBytes(n)))),
    };
    uploader::run(
        &mut store,
        &ctx.cfg,
        &ctx.actor,
        target.as_mut(),
        &opts,
        &mut |e| {
            // A batch's state changed: the reader shows it again.
            if matches!(
                e,
                UploadEvent::Done { .. }
                    | UploadEvent::Parked { .. }
                    | UploadEvent::Retrying { .. }
            ) {
                ctx.changed(Read::All);
            }
            ctx.emit.emit(Event::Upload(e))
        },
    )
    .map(|_| ())
}
