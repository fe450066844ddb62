//! Heartbeat's command FIFO, `<state dir>/fifo`: the I/O half. `setup.rs` made it (mode
//! 0600, owned by the daemon's user) and opened it for reading and writing, so a read never
//! sees end-of-file when a writer goes away and writers never block on `open`; this task reads
//! it without blocking the event loop, hands the bytes to hb-control's [`FifoReader`] (the
//! framing, the bounds and the mapping to requests live there) and passes each request to the
//! event loop like a control-socket request, logging the reader's warnings.

use std::path::PathBuf;

use hb_control::{FifoEvent, FifoReader};
use tokio::io::AsyncReadExt as _;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::control::{Call, Via};

/// Bytes read at once: a pipe's atomic write, and more than any message Heartbeat's tools
/// write.
const READ_CHUNK: usize = 4096;

/// Reads the FIFO until the event loop stops taking requests.
pub(crate) async fn read(mut fifo: pipe::Receiver, path: PathBuf, calls: mpsc::Sender<Call>) {
    let origin = tokio::time::Instant::now();
    let mut reader = FifoReader::new();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match fifo.read(&mut buf).await {
            Ok(0) => {
                // Cannot happen while we hold a write end; stop rather than spin.
                tracing::error!(
                    "{}: end of file on the command FIFO: no longer reading it (hb_standby and \
                     hb_takeover through it do nothing until heartbeat restarts)",
                    path.display()
                );
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(
                    "{}: cannot read the command FIFO ({e}): no longer reading it (hb_standby \
                     and hb_takeover through it do nothing until heartbeat restarts)",
                    path.display()
                );
                return;
            }
        };
        let bytes = buf.get(..n).unwrap_or_default();
        for event in reader.push(origin.elapsed(), bytes) {
            match event {
                FifoEvent::Request(request) => {
                    // Nobody waits for the reply: the core logs a refusal itself.
                    let (reply, _) = oneshot::channel();
                    let call = Call {
                        request,
                        reply,
                        via: Via::Fifo,
                    };
                    if calls.send(call).await.is_err() {
                        return;
                    }
                }
                FifoEvent::Warning(w) => {
                    tracing::warn!("{}: {w}", path.display());
                }
            }
        }
    }
}
