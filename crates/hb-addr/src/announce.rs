//! The announcement burst after an add: gratuitous ARP for IPv4, unsolicited neighbour
//! advertisements for IPv6. The first step goes out before `add` returns; the rest runs in a
//! detached process that stops early when the address disappears.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use hb_sys::addr::{Interface, Netlink};
use hb_sys::garp::{self, Burst, GarpError, GarpSender};
use hb_sys::ndisc::{NaSender, NdiscError};

/// Why an announcement could not be sent (a warning: the address is configured anyway).
#[derive(Debug)]
enum AnnounceError {
    Arp(GarpError),
    Na(NdiscError),
}

impl fmt::Display for AnnounceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Arp(e) => e.fmt(f),
            Self::Na(e) => e.fmt(f),
        }
    }
}

/// Announces an address: gratuitous ARP for IPv4, unsolicited neighbour advertisements for
/// IPv6.
#[derive(Debug)]
enum Announcer {
    Arp(GarpSender),
    Na(NaSender),
}

impl Announcer {
    fn open(iface: &Interface, mac: [u8; 6], ip: IpAddr) -> Result<Self, AnnounceError> {
        match ip {
            IpAddr::V4(ip) => GarpSender::open(&iface.name, iface.index, mac, ip)
                .map(Self::Arp)
                .map_err(AnnounceError::Arp),
            IpAddr::V6(ip) => NaSender::open(&iface.name, iface.index, mac, ip)
                .map(Self::Na)
                .map_err(AnnounceError::Na),
        }
    }

    fn send_step(&self) -> Result<(), AnnounceError> {
        match self {
            Self::Arp(s) => s.send_step().map_err(AnnounceError::Arp),
            Self::Na(s) => s.send_step().map_err(AnnounceError::Na),
        }
    }
}

/// Sends the first announcement step now and detaches the rest. Failures here are warnings:
/// the address is configured, and the kernel answers ARP requests and neighbour solicitations
/// for it anyway.
pub(crate) fn announce(iface: &Interface, ip: IpAddr, burst: Burst) {
    if burst.count == 0 {
        return;
    }
    let Some(mac) = iface.mac.filter(|_| iface.arp) else {
        return; // loopback, NOARP or non-Ethernet link: nothing to announce
    };
    let sender = match Announcer::open(iface, mac, ip) {
        Ok(sender) => sender,
        Err(err) => return warn(&err),
    };
    if let Err(err) = sender.send_step() {
        warn(&err);
    }
    // The socket goes to a detached process even when no step is left: the last close of a
    // packet socket waits for an RCU grace period in the kernel (packet_release calls
    // synchronize_net; ~10 ms measured), which the caller must not pay.
    let index = iface.index;
    let rest = burst.count - 1;
    let detached = garp::spawn_detached(move || match rest {
        0 => 0,
        _ => finish_burst(&sender, index, ip, rest, burst.interval),
    });
    if let Err(err) = detached {
        warn(&err);
    }
}

fn warn(err: &dyn fmt::Display) {
    eprintln!("hb-addr: warning: {err}");
}

/// The detached part of a burst: `steps` more steps, each `interval` after the previous one,
/// each only while `ip` is still on interface `index`. Returns the process exit status.
fn finish_burst(sender: &Announcer, index: u32, ip: IpAddr, steps: u32, interval: Duration) -> i32 {
    let Ok(rt) = crate::runtime() else { return 1 };
    rt.block_on(async {
        let Ok(nl) = Netlink::connect() else { return 1 };
        let mut next = tokio::time::Instant::now();
        for _ in 0..steps {
            next += interval;
            tokio::time::sleep_until(next).await;
            match nl.is_present(ip, None, Some(index)).await {
                Ok(true) => {}
                Ok(false) => return 0,
                Err(_) => return 1,
            }
            if sender.send_step().is_err() {
                return 1;
            }
        }
        0
    })
}
