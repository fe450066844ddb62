//! The "who am I" TCP service: a thread inside a host's namespace accepts on 0.0.0.0:PORT and
//! answers every connection with the host's name and a newline, then closes it.

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use anyhow::{Context, Result, anyhow};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::netns;

/// How often an idle listener thread looks at its stop flag.
const STOP_CHECK_MS: u8 = 20;

/// A running listener thread. Stop it with [`Listener::stop`]; dropping it stops it too.
#[derive(Debug)]
pub(crate) struct Listener {
    stop: Arc<AtomicBool>,
    socket: Option<Arc<TcpListener>>,
    handle: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds 0.0.0.0:`port` inside namespace `ns` and serves `reply` until stopped. Returns once
    /// the socket is listening, or with the bind error.
    pub(crate) fn start(ns: &str, port: u16, reply: &str) -> Result<Listener> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Arc<TcpListener>>>();
        let ns_name = ns.to_owned();
        let reply = format!("{reply}\n").into_bytes();
        let thread_stop = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name(format!("listen-{port}"))
            .spawn(move || {
                // The socket must be created by a thread inside the namespace.
                let bound = netns::enter(&ns_name).and_then(|()| {
                    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                        .with_context(|| format!("bind 0.0.0.0:{port} in {ns_name}"))?;
                    l.set_nonblocking(true)?;
                    Ok(Arc::new(l))
                });
                match bound {
                    Ok(listener) => {
                        let _ = ready_tx.send(Ok(Arc::clone(&listener)));
                        serve(&listener, &reply, &thread_stop);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .context("cannot spawn listener thread")?;
        let mut listener = Listener {
            stop,
            socket: None,
            handle: Some(handle),
        };
        match ready_rx.recv() {
            Ok(Ok(socket)) => {
                listener.socket = Some(socket);
                Ok(listener)
            }
            Ok(Err(e)) => {
                listener.join();
                Err(e)
            }
            Err(_) => {
                listener.join();
                Err(anyhow!(
                    "listener thread for port {port} in {ns} died before binding"
                ))
            }
        }
    }

    /// Stops serving: when this returns the listening socket is closed, so new connections
    /// are refused.
    pub(crate) fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(socket) = self.socket.take() {
            // Shutting a listening socket down closes it at once (queued and new connections
            // are reset) and wakes the thread's poll, so the stop takes effect now, not at the
            // thread's next look at the flag.
            let _ = socket2::SockRef::from(&*socket).shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.handle.take() {
            // The thread only panics on a bug in `serve`, which has nothing to clean up.
            let _ = h.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.join();
    }
}

fn serve(listener: &TcpListener, reply: &[u8], stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(STOP_CHECK_MS)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                eprintln!("hb-nstests listener: poll failed: {e}");
                return;
            }
        }
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    // A short reply into an empty socket buffer never blocks; a client that
                    // already reset the connection is not our problem.
                    let _ = stream.write_all(reply);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Connections reset while queued, or fd exhaustion: keep serving.
                Err(_) => break,
            }
        }
    }
}
