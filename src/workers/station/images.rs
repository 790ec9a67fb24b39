//! The image decoder (`folio-images`): stored thumbnails, previews and whole
//! pages decoded to RGBA for the window's textures, off the UI thread.

use super::{Emitter, Event, ImageRequest};
use crate::pixels::Encoding;
use crate::store::ImageStore;
use crossbeam_channel::Receiver;
use std::thread::JoinHandle;

/// Requests waiting, at most (a screen of thumbnails, and some).
pub(super) const QUEUE: usize = 512;

pub(super) fn spawn(
    ctx: &super::actor::Ctx,
    requests: Receiver<ImageRequest>,
) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    let emit: Emitter = ctx.emit.clone();
    std::thread::Builder::new()
        .name("folio-images".into())
        .spawn(move || {
            // At a locked encrypted station, only once someone signs in.
            if !ctx.wait_unlocked(None) {
                return;
            }
            let images = match ImageStore::of_station(&ctx.data_dir) {
                Ok(i) => i,
                Err(e) => return emit.error(e),
            };
            for req in requests {
                if let Some(e) = decode(&images, &req) {
                    emit.emit(e);
                }
            }
        })
}

/// The image as RGBA; None when it cannot be read (the window shows none).
fn decode(images: &ImageStore, req: &ImageRequest) -> Option<Event> {
    let bytes = images.get(req.sha256()).ok()?;
    let img = match req {
        ImageRequest::Page(i) if i.encoding == Encoding::G4 => {
            let r = crate::imaging::encode::decode_g4(&bytes, i.width, i.height, i.dpi);
            image::GrayImage::from_raw(r.width, r.height, r.data)
                .map(image::DynamicImage::ImageLuma8)?
        }
        _ => image::load_from_memory(&bytes).ok()?,
    };
    let rgba = img.to_rgba8();
    Some(Event::Image {
        sha256: req.sha256().to_string(),
        width: rgba.width() as usize,
        height: rgba.height() as usize,
        rgba: rgba.into_raw(),
    })
}
