//! The sender's reads. The file is read one block ahead of what goes out, on tokio's
//! blocking pool, straight into the buffers that become the channel's messages (one per
//! chunk, cut at the size the transfer asks for: no copy between the file and the
//! channel), and read again from wherever a resume moves the transfer. The transfer task never waits for the disk while a block
//! is ready.

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::IO_BUFFER;

type Block = io::Result<Vec<Vec<u8>>>;

/// Reads a file in order, a block ahead.
pub(crate) struct ReadAhead {
    file: Arc<std::fs::File>,
    size: u64,
    /// Chunks read and not handed out yet; the first starts at `at`.
    ready: VecDeque<Vec<u8>>,
    at: u64,
    /// The block being read, its offset and the size of its chunks.
    next: Option<(u64, usize, JoinHandle<Block>)>,
}

impl ReadAhead {
    /// Reads `file`, of `size` bytes when the transfer started.
    pub(crate) fn new(file: std::fs::File, size: u64) -> ReadAhead {
        ReadAhead { file: Arc::new(file), size, ready: VecDeque::new(), at: 0, next: None }
    }

    /// The `len` bytes at `offset`: the next chunk when the transfer goes on in order,
    /// else read from `offset` (after a resume). A file that became shorter is an error.
    pub(crate) async fn chunk(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if self.at != offset || self.ready.is_empty() {
            self.ready.clear();
            let block = match self.next.take() {
                Some((start, cut, reading)) if start == offset && cut == len => {
                    reading.await.map_err(io::Error::other)??
                }
                // A read for a place the transfer left: its result is dropped.
                _ => spawn_read(self.file.clone(), offset, self.size, len).await.map_err(io::Error::other)??,
            };
            self.ready = block.into();
            self.at = offset;
        }
        let chunk = match self.ready.pop_front() {
            Some(c) if c.len() == len => c,
            // Asked for another size than the block was cut in (its last chunk, or the
            // channel changed): read exactly that.
            _ => {
                self.ready.clear();
                self.next = None;
                let mut c = vec![0u8; len];
                let file = self.file.clone();
                let read = tokio::task::spawn_blocking(move || file.read_exact_at(&mut c, offset).map(|()| c));
                let c = read.await.map_err(io::Error::other)??;
                self.at = offset + len as u64;
                return Ok(c);
            }
        };
        self.at += len as u64;
        let end = self.at + self.ready.iter().map(|c| c.len() as u64).sum::<u64>();
        if self.next.is_none() && end < self.size {
            self.next = Some((end, len, spawn_read(self.file.clone(), end, self.size, len)));
        }
        Ok(chunk)
    }
}

impl ReadAhead {
    /// The `len` bytes at `offset` in one piece (rehashing after a restart).
    pub(crate) async fn block(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let file = self.file.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut b = vec![0u8; len];
            file.read_exact_at(&mut b, offset).map(|()| b)
        });
        read.await.map_err(io::Error::other)?
    }
}

/// Reads the block at `start`, cut into chunks of `cut` bytes, on the blocking pool.
fn spawn_read(file: Arc<std::fs::File>, start: u64, size: u64, cut: usize) -> JoinHandle<Block> {
    tokio::task::spawn_blocking(move || read_block(&file, start, size, cut.max(1)))
}

/// The block of up to [`IO_BUFFER`] bytes at `start` (and at least one chunk), cut into
/// chunks of `cut` bytes.
fn read_block(file: &std::fs::File, start: u64, size: u64, cut: usize) -> Block {
    let end = start.saturating_add(IO_BUFFER.max(cut) as u64).min(size);
    let mut chunks = Vec::with_capacity(IO_BUFFER / cut + 1);
    let mut at = start;
    while at < end {
        let len = (end - at).min(cut as u64) as usize;
        let mut c = vec![0u8; len];
        file.read_exact_at(&mut c, at)?;
        chunks.push(c);
        at += len as u64;
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: usize = 16 * 1024;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &data).unwrap();
        (f, data)
    }

    #[tokio::test]
    async fn reads_the_file_in_order_across_blocks() {
        let len = 2 * IO_BUFFER + 5 * CHUNK + 100;
        let (f, data) = file_of(len);
        let mut r = ReadAhead::new(std::fs::File::open(f.path()).unwrap(), len as u64);
        let mut got = Vec::new();
        while got.len() < len {
            let n = (len - got.len()).min(CHUNK);
            got.extend(r.chunk(got.len() as u64, n).await.unwrap());
        }
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn a_resume_reads_from_the_new_offset() {
        let len = 3 * IO_BUFFER;
        let (f, data) = file_of(len);
        let mut r = ReadAhead::new(std::fs::File::open(f.path()).unwrap(), len as u64);
        for i in 0..100 {
            r.chunk((i * CHUNK) as u64, CHUNK).await.unwrap();
        }
        // Back to a confirm point, then on again.
        let back = IO_BUFFER as u64;
        assert_eq!(r.chunk(back, CHUNK).await.unwrap(), data[IO_BUFFER..IO_BUFFER + CHUNK]);
        assert_eq!(r.chunk(back + CHUNK as u64, CHUNK).await.unwrap(), data[IO_BUFFER + CHUNK..IO_BUFFER + 2 * CHUNK]);
        // Odd sizes are read exactly.
        assert_eq!(r.chunk(10, 3).await.unwrap(), data[10..13]);
    }

    #[tokio::test]
    async fn a_file_that_became_shorter_is_an_error() {
        let len = IO_BUFFER;
        let (f, _) = file_of(len);
        let mut r = ReadAhead::new(std::fs::File::open(f.path()).unwrap(), 2 * len as u64);
        r.chunk(0, CHUNK).await.unwrap();
        let e = r.chunk(len as u64, CHUNK).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
