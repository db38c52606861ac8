//! A gzip writer that compresses on every core, with the same bytes on any machine.
//!
//! The input is cut into blocks of [`BLOCK`] bytes, whatever the number of cores; each block
//! is compressed on its own (raw deflate, ended with a sync flush so that it stops on a byte
//! boundary and is not final), and the results are written in order, then one empty final
//! block, as one gzip member: a plain `.tar.gz` that every gunzip reads, as pigz writes.
//! Compressing a block does not depend on the others, so the output depends on the input and
//! the level only: byte-identical across machines and core counts. A block whose samples do
//! not compress at level 1 (random bytes, compressed data) is stored instead, as deflate
//! allows: no larger than compressing it, at the speed of a copy.
//!
//! Memory is bounded by the blocks in flight: at most [`MAX_WORKERS`] compressions at once,
//! each holding its block and its output (about 2.1 × [`BLOCK`]), plus the block being
//! filled: under 40 MiB with 16 cores, whatever the archive's size.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc;

use flate2::{Compress, Compression, FlushCompress};

/// The size of the blocks compressed independently.
pub(crate) const BLOCK: usize = 1 << 20;

/// The most compressions in flight (and threads) at once.
pub(crate) const MAX_WORKERS: usize = 16;

/// The gzip header: no name, mtime 0, the "unknown" OS byte (as the archives always had).
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];

/// A final, empty deflate block with fixed codes: ends the stream of sync-flushed blocks.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

pub(crate) struct ParallelGz<W: Write> {
    inner: W,
    level: u32,
    workers: usize,
    block: Vec<u8>,
    crc: flate2::Crc,
    in_flight: VecDeque<mpsc::Receiver<io::Result<Vec<u8>>>>,
    started: bool,
}

impl<W: Write> ParallelGz<W> {
    /// Compresses at `level` (0–9) on `workers` threads (at least one, at most
    /// [`MAX_WORKERS`]); the output does not depend on `workers`.
    pub(crate) fn new(inner: W, level: u32, workers: usize) -> Self {
        ParallelGz {
            inner,
            level,
            workers: workers.clamp(1, MAX_WORKERS),
            block: Vec::with_capacity(BLOCK),
            crc: flate2::Crc::new(),
            in_flight: VecDeque::new(),
            started: false,
        }
    }

    /// The number of threads this machine offers, for [`ParallelGz::new`].
    pub(crate) fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.inner.write_all(&HEADER)?;
        }
        Ok(())
    }

    /// Hands the full block to a thread, first writing out the oldest result when as many
    /// compressions as workers are in flight.
    fn dispatch(&mut self) -> io::Result<()> {
        self.header()?;
        while self.in_flight.len() >= self.workers {
            self.write_oldest()?;
        }
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let (send, receive) = mpsc::channel();
        let level = self.level;
        std::thread::Builder::new().name("gzip".into()).spawn(move || {
            let _ = send.send(deflate_block(&block, level));
        })?;
        self.in_flight.push_back(receive);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(receive) = self.in_flight.pop_front() else { return Ok(()) };
        let compressed = receive.recv().map_err(|_| io::Error::other("a compression thread stopped"))??;
        self.inner.write_all(&compressed)
    }

    /// Writes every block, the end of the stream and the trailer; returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() {
            self.dispatch()?;
        }
        self.header()?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.inner.write_all(&FINAL_BLOCK)?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        if self.block.len() == BLOCK {
            self.dispatch()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Windows of a block tried at level 1 to tell whether it compresses at all.
const SAMPLES: usize = 4;
const SAMPLE: usize = 16 << 10;

/// Whether deflate would gain nothing on `block`: every sample window (spread over the block)
/// stays at 99 % or more of its size at level 1. Decided by the block's bytes alone.
fn incompressible(block: &[u8]) -> bool {
    if block.len() < SAMPLES * SAMPLE {
        return false;
    }
    let step = block.len() / SAMPLES;
    (0..SAMPLES).all(|i| {
        let window = &block[i * step..i * step + SAMPLE];
        let mut compress = Compress::new(Compression::new(1), false);
        let mut out = Vec::with_capacity(SAMPLE + SAMPLE / 8 + 64);
        match compress.compress_vec(window, &mut out, FlushCompress::Sync) {
            Ok(_) => compress.total_in() as usize == SAMPLE && out.len() * 100 >= SAMPLE * 99,
            Err(_) => false,
        }
    })
}

/// `block` as stored (uncompressed) deflate blocks, none final: the stream is byte-aligned
/// before each, so a stored block's header is one zero byte.
fn stored_blocks(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + block.len() / 65535 * 5 + 5);
    for chunk in block.chunks(65535) {
        let len = chunk.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// One block as raw deflate, sync-flushed (byte-aligned, not final); a block that does not
/// compress (already compressed data, random bytes) is stored as it is, at copying speed.
fn deflate_block(block: &[u8], level: u32) -> io::Result<Vec<u8>> {
    if incompressible(block) {
        return Ok(stored_blocks(block));
    }
    let mut compress = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(block.len() + block.len() / 16 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(block.len() / 8 + 64);
        }
        let consumed = compress.total_in() as usize;
        compress.compress_vec(&block[consumed..], &mut out, FlushCompress::Sync).map_err(io::Error::other)?;
        // Done when all the input is in and the flush left room to spare.
        if compress.total_in() as usize == block.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], workers: usize) -> Vec<u8> {
        let mut writer = ParallelGz::new(Vec::new(), 6, workers);
        // Odd-sized writes, across block boundaries.
        for chunk in data.chunks(777_777) {
            writer.write_all(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    fn data(len: usize) -> Vec<u8> {
        let mut state = 0x1234_5678_9abc_def0u64;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Half text-like, half noise: both kinds of block.
                if (i / BLOCK).is_multiple_of(2) { b"release orchestrator "[i % 21] } else { state as u8 }
            })
            .collect()
    }

    #[test]
    fn the_stream_is_one_valid_gzip_member_and_the_same_on_any_number_of_cores() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345] {
            let input = data(len);
            let one = gz(&input, 1);
            for workers in [2, 3, 16] {
                assert_eq!(gz(&input, workers), one, "{len} bytes on {workers} workers");
            }
            // flate2's reader takes it as one member with a valid CRC and length.
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&one[..]).read_to_end(&mut decoded).unwrap();
            assert!(decoded == input, "{len} bytes round trip");
            assert_eq!(&one[..10], &HEADER);
        }
        // The noise blocks were stored (about their size), the text blocks compressed.
        let input = data(4 * BLOCK);
        let size = gz(&input, 2).len();
        assert!(size > 2 * BLOCK && size < 2 * BLOCK + BLOCK / 8, "{size}");
        assert!(incompressible(&input[BLOCK..2 * BLOCK]) && !incompressible(&input[..BLOCK]));
    }
}
