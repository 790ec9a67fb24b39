//! Sealed files: how a station with Folio's own encryption keeps a page
//! image, a built PDF or any other file with patient content on disk.
//!
//! The format is RustCrypto's STREAM construction (`aead::stream`, big-endian
//! 32-bit counter) over XChaCha20-Poly1305, in chunks of [`CHUNK`] bytes: a
//! header (magic and a random 19-byte nonce prefix), then each chunk sealed
//! with the file's name as associated data. So a flipped byte fails its
//! chunk's tag, two files swapped under each other's names fail (the name is
//! authenticated), chunks cannot be reordered (the counter is in the nonce)
//! and a file cut short fails (only the last chunk is sealed as last). The
//! chunking keeps memory bounded for a PDF of any size; the construction is
//! the crate's, only the framing (fixed-size chunks, the header) is ours.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, OsRng, Payload, rand_core::RngCore};
use std::io::{self, Read, Write};
use zeroize::Zeroizing;

/// The first bytes of every sealed file.
pub const MAGIC: &[u8; 16] = b"FOLIO-SEALED-v1\n";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const PREFIX: usize = 19;
/// Header bytes before the first chunk.
pub const HEADER: usize = MAGIC.len() + PREFIX;

/// The size on disk of a file of `plain` bytes once sealed.
pub fn sealed_len(plain: u64) -> u64 {
    let chunks = plain / CHUNK as u64 + 1;
    HEADER as u64 + plain + chunks * TAG as u64
}

fn aad(name: &str) -> Vec<u8> {
    let mut a = b"folio-sealed-v1:".to_vec();
    a.extend_from_slice(name.as_bytes());
    a
}

fn refused(name: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "sealed file {name} {why}: it was changed, damaged or put in another file's place; restore it from backup or rescan the page"
        ),
    )
}

/// Writes a sealed file's content into `out`, chunk by chunk, as it is
/// written; [`SealWriter::finish`] seals the last chunk (a writer dropped
/// unfinished leaves a file that will not open).
pub struct SealWriter<W: Write> {
    out: W,
    enc: Option<EncryptorBE32<XChaCha20Poly1305>>,
    buf: Zeroizing<Vec<u8>>,
    aad: Vec<u8>,
}

impl<W: Write> SealWriter<W> {
    /// Starts a sealed file called `name` (authenticated, so it opens only
    /// under that name) with the files key.
    pub fn new(mut out: W, key: &[u8; 32], name: &str) -> io::Result<SealWriter<W>> {
        let mut prefix = [0u8; PREFIX];
        OsRng.fill_bytes(&mut prefix);
        out.write_all(MAGIC)?;
        out.write_all(&prefix)?;
        let aead = XChaCha20Poly1305::new(key.into());
        Ok(SealWriter {
            out,
            enc: Some(EncryptorBE32::from_aead(
                aead,
                chacha20poly1305::aead::generic_array::GenericArray::from_slice(&prefix),
            )),
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            aad: aad(name),
        })
    }

    fn seal_full_chunks(&mut self) -> io::Result<()> {
        while self.buf.len() >= CHUNK {
            let enc = self
                .enc
                .as_mut()
                .ok_or_else(|| io::Error::other("finished"))?;
            let sealed = enc
                .encrypt_next(Payload {
                    msg: &self.buf[..CHUNK],
                    aad: &self.aad,
                })
                .map_err(|_| io::Error::other("sealing a chunk failed"))?;
            self.out.write_all(&sealed)?;
            self.buf.drain(..CHUNK);
        }
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_full_chunks()?;
        let enc = self
            .enc
            .take()
            .ok_or_else(|| io::Error::other("finished"))?;
        let sealed = enc
            .encrypt_last(Payload {
                msg: &self.buf,
                aad: &self.aad,
            })
            .map_err(|_| io::Error::other("sealing the last chunk failed"))?;
        self.out.write_all(&sealed)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // Every full chunk is sealed as it fills, so the last one (sealed
        // by `finish`) holds fewer than CHUNK bytes, maybe none: a reader
        // knows it by its size.
        self.seal_full_chunks()?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a sealed file back, chunk by chunk, failing on the first chunk
/// that does not authenticate.
pub struct SealReader<R: Read> {
    inner: R,
    dec: Option<DecryptorBE32<XChaCha20Poly1305>>,
    plain: Zeroizing<Vec<u8>>,
    at: usize,
    aad: Vec<u8>,
    name: String,
}

impl<R: Read> SealReader<R> {
    pub fn new(mut inner: R, key: &[u8; 32], name: &str) -> io::Result<SealReader<R>> {
        let mut header = [0u8; HEADER];
        read_full(&mut inner, &mut header)
            .and_then(|n| if n == HEADER { Ok(()) } else { Err(None) })
            .map_err(|e| e.unwrap_or_else(|| refused(name, "is too short to be sealed")))?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(refused(name, "is not sealed"));
        }
        let aead = XChaCha20Poly1305::new(key.into());
        Ok(SealReader {
            inner,
            dec: Some(DecryptorBE32::from_aead(
                aead,
                chacha20poly1305::aead::generic_array::GenericArray::from_slice(
                    &header[MAGIC.len()..],
                ),
            )),
            plain: Zeroizing::new(Vec::new()),
            at: 0,
            aad: aad(name),
            name: name.to_string(),
        })
    }

    /// Opens the next chunk into `plain`; false at the end.
    fn next_chunk(&mut self) -> io::Result<bool> {
        let Some(dec) = self.dec.as_mut() else {
            return Ok(false);
        };
        let mut sealed = vec![0u8; CHUNK + TAG];
        let n = read_full(&mut self.inner, &mut sealed)
            .map_err(|e| e.unwrap_or_else(|| refused(&self.name, "could not be read")))?;
        sealed.truncate(n);
        let payload = Payload {
            msg: &sealed,
            aad: &self.aad,
        };
        let opened = if n == CHUNK + TAG {
            dec.decrypt_next(payload)
        } else {
            let Some(dec) = self.dec.take() else {
                return Ok(false);
            };
            dec.decrypt_last(payload)
        };
        let opened = opened.map_err(|_| refused(&self.name, "does not authenticate"))?;
        self.plain = Zeroizing::new(opened);
        self.at = 0;
        Ok(true)
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, Option<io::Error>> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Some(e)),
        }
    }
    Ok(n)
}

impl<R: Read> Read for SealReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Seals `plain` whole (for small files).
pub fn seal(key: &[u8; 32], name: &str, plain: &[u8]) -> io::Result<Vec<u8>> {
    let mut w = SealWriter::new(
        Vec::with_capacity(sealed_len(plain.len() as u64) as usize),
        key,
        name,
    )?;
    w.write_all(plain)?;
    w.finish()
}

/// Opens a sealed file's bytes whole.
pub fn open(key: &[u8; 32], name: &str, sealed: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(sealed.len());
    SealReader::new(sealed, key, name)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trips_at_every_chunk_edge_and_says_its_size() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&KEY, "ab/cd", &plain).unwrap();
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len}");
            assert_eq!(open(&KEY, "ab/cd", &sealed).unwrap(), plain, "{len}");
            // Written in odd pieces, it reads the same.
            let mut w = SealWriter::new(Vec::new(), &KEY, "ab/cd").unwrap();
            for piece in plain.chunks(1000) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(open(&KEY, "ab/cd", &w.finish().unwrap()).unwrap(), plain);
        }
    }

    #[test]
    fn a_flipped_byte_a_swap_a_cut_or_a_wrong_key_is_refused() {
        let plain = vec![42u8; 2 * CHUNK + 5];
        let sealed = seal(&KEY, "one", &plain).unwrap();
        let words = |r: io::Result<Vec<u8>>| r.unwrap_err().to_string();
        for at in [
            HEADER - 1,
            HEADER + 3,
            HEADER + CHUNK + 20,
            sealed.len() - 1,
        ] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(
                words(open(&KEY, "one", &bad)).contains("does not authenticate"),
                "{at}"
            );
        }
        assert!(
            words(open(&KEY, "two", &sealed)).contains("sealed file two does not authenticate")
        );
        assert!(open(&[8; 32], "one", &sealed).is_err());
        // Cut at a chunk's end: the last chunk is missing.
        let cut = &sealed[..HEADER + CHUNK + TAG];
        assert!(words(open(&KEY, "one", cut)).contains("does not authenticate"));
        assert!(words(open(&KEY, "one", &sealed[..10])).contains("too short"));
        assert!(words(open(&KEY, "one", &plain)).contains("is not sealed"));
        // Chunks in another order.
        let mut swapped = sealed[..HEADER].to_vec();
        swapped.extend_from_slice(&sealed[HEADER + CHUNK + TAG..HEADER + 2 * (CHUNK + TAG)]);
        swapped.extend_from_slice(&sealed[HEADER..HEADER + CHUNK + TAG]);
        swapped.extend_from_slice(&sealed[HEADER + 2 * (CHUNK + TAG)..]);
        assert!(open(&KEY, "one", &swapped).is_err());
    }

    #[test]
    fn the_same_content_seals_differently_each_time() {
        let a = seal(&KEY, "x", b"patient").unwrap();
        let b = seal(&KEY, "x", b"patient").unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(7).any(|w| w == b"patient"));
    }
}
