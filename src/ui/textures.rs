//! Textures made from stored images the image worker already decoded, once
//! each, within a memory budget. Screens ask for an image; the app shell
//! sends the requests to the `folio-images` worker after the frame.

use crate::workers::station::ImageRequest;
use eframe::egui;
use std::collections::{HashMap, HashSet, VecDeque};

/// Bytes of textures kept: some hundreds of thumbnails (145 KB each), a few
/// previews (6 MB) and a page or two at full resolution (35 MB at 300 dpi).
/// With a software renderer these live in the process's own memory.
const TEXTURE_BUDGET: usize = 96 << 20;

/// Textures made from stored images, by SHA-256, oldest made first out once
/// they pass the budget, so memory stays bounded however long the batch.
#[derive(Default)]
pub struct Textures {
    by_sha: HashMap<String, (egui::TextureHandle, usize)>,
    order: VecDeque<String>,
    requested: HashSet<String>,
    /// Asked for this frame, not yet sent to the image worker.
    wanted: Vec<ImageRequest>,
    bytes: usize,
}

impl Textures {
    /// The texture of a thumbnail or preview, asking the workers for it the
    /// first time.
    pub fn get(&mut self, sha: &str) -> Option<&egui::TextureHandle> {
        self.request(ImageRequest::Rendering(sha.to_string()))
    }

    /// The texture of an image, asking the workers for it the first time.
    pub fn request(&mut self, req: ImageRequest) -> Option<&egui::TextureHandle> {
        let sha = req.sha256();
        if !self.by_sha.contains_key(sha) && self.requested.insert(sha.to_string()) {
            self.wanted.push(req.clone());
        }
        self.by_sha.get(req.sha256()).map(|(t, _)| t)
    }

    /// The images asked for since the last call, for the image worker.
    /// A request the decoder could not take yet: asked again when next shown.
    pub fn not_taken(&mut self, req: &ImageRequest) {
        self.requested.remove(req.sha256());
    }

    pub fn take_wanted(&mut self) -> Vec<ImageRequest> {
        std::mem::take(&mut self.wanted)
    }

    /// Textures held, and their bytes.
    pub fn loaded(&self) -> (usize, usize) {
        (self.by_sha.len(), self.bytes)
    }

    /// Whether the image with this SHA-256 is held as a texture.
    pub fn has(&self, sha: &str) -> bool {
        self.by_sha.contains_key(sha)
    }

    /// Makes the texture of a decoded image.
    pub fn insert(&mut self, ctx: &egui::Context, sha: String, w: usize, h: usize, rgba: &[u8]) {
        let image = egui::ColorImage::from_rgba_unmultiplied([w, h], rgba);
        let tex = ctx.load_texture(&sha, image, egui::TextureOptions::LINEAR);
        if let Some((_, b)) = self.by_sha.insert(sha.clone(), (tex, rgba.len())) {
            self.bytes -= b;
        }
        self.bytes += rgba.len();
        self.order.push_back(sha);
        while self.bytes > TEXTURE_BUDGET && self.order.len() > 1 {
            if let Some(old) = self.order.pop_front()
                && let Some((_, b)) = self.by_sha.remove(&old)
            {
                self.bytes -= b;
                self.requested.remove(&old);
            }
        }
    }
}
