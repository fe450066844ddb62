//! Unsolicited neighbour advertisements for an IPv6 service address, sent from an AF_PACKET
//! socket: IPv6's counterpart of gratuitous ARP ([`crate::garp`]).
//!
//! After a takeover the neighbours of the LAN still map the service address to the old
//! holder's MAC. Each *step* of a burst sends one neighbour advertisement (RFC 4861 §4.4,
//! §7.2.6) announcing "`ip` is at `mac`":
//! - Ethernet destination 33:33:00:00:00:01, IPv6 destination ff02::1 (all nodes), source the
//!   service address itself (as the kernel's own unsolicited advertisements), hop limit 255
//!   (receivers drop neighbour discovery with any other hop limit);
//! - ICMPv6 type 136, code 0, flags Override set, Router and Solicited clear (RFC 4861
//!   §7.2.6: an unsolicited advertisement has S = 0; O = 1 makes receivers replace a cached
//!   link-layer address), target = the service address;
//! - one Target Link-Layer Address option (type 2) carrying `mac`.
//!
//! Linux updates an existing neighbour cache entry from such an advertisement (to the new MAC,
//! state STALE, so it is confirmed before long) and, by default, does not create entries from
//! it; switches learn the MAC from the frame's source address.
//!
//! The frame is built here, checksum included, and sent from a packet socket rather than a raw
//! ICMPv6 socket: no bind to the (possibly not yet usable) address, no multicast options, and
//! exactly the bytes the unit tests check. Bursts, detaching and the slow final close of the
//! socket work as for ARP (see [`crate::garp::Burst`] and [`crate::garp::spawn_detached`]).

use std::io;
use std::net::Ipv6Addr;

use crate::garp::{OpenError, PacketSocket};

/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// IPv6 next-header value of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type of a neighbour advertisement.
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Neighbour discovery option: target link-layer address.
pub const ND_OPT_TARGET_LINKADDR: u8 = 2;
/// Advertisement flag bits (first byte after the checksum).
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// Solicited flag.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// Override flag.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// The hop limit neighbour discovery messages must carry (RFC 4861 §7.1.2).
pub const ND_HOP_LIMIT: u8 = 255;
/// The link-local all-nodes multicast group.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address of [`ALL_NODES`] (33:33 + its low 32 bits, RFC 2464 §7).
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
/// Length of the ICMPv6 part: 24 bytes of advertisement + an 8-byte option.
pub const NA_ICMP_LEN: usize = 32;
/// Length of the whole frame: 14 Ethernet + 40 IPv6 + [`NA_ICMP_LEN`] (above the 60-byte
/// Ethernet minimum, so no padding).
pub const NA_FRAME_LEN: usize = 14 + 40 + NA_ICMP_LEN;

/// Errors of sending neighbour advertisements.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NdiscError {
    /// Opening a packet socket needs CAP_NET_RAW.
    #[error("permission denied: sending neighbour advertisements needs CAP_NET_RAW")]
    PermissionDenied,
    /// The packet socket could not be opened.
    #[error("cannot open a packet socket: {0}")]
    Socket(#[source] io::Error),
    /// An interface index that does not fit `sockaddr_ll`.
    #[error("interface index {0} is out of range")]
    BadIndex(u32),
    /// A frame could not be sent.
    #[error("sending a neighbour advertisement on {iface} failed: {source}")]
    Send {
        /// Interface name.
        iface: String,
        /// The error from `sendto`.
        #[source]
        source: io::Error,
    },
}

/// The ICMPv6 checksum (RFC 4443 §2.3) of `message` (whose checksum field must be zero) sent
/// from `src` to `dst`: the one's complement of the one's complement sum over the IPv6
/// pseudo-header and the message.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    fn add(sum: u32, bytes: &[u8]) -> u32 {
        bytes.chunks(2).fold(sum, |sum, pair| {
            let word = match *pair {
                [hi, lo] => u16::from_be_bytes([hi, lo]),
                [hi] => u16::from_be_bytes([hi, 0]),
                _ => 0,
            };
            // Fold as we go: the sum never overflows whatever the input length.
            let sum = sum + u32::from(word);
            (sum & 0xffff) + (sum >> 16)
        })
    }
    // A message longer than u32::MAX bytes cannot be sent; saturate rather than panic.
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut sum = add(0, &src.octets());
    sum = add(sum, &dst.octets());
    sum = add(sum, &len.to_be_bytes());
    sum = add(sum, &[0, 0, 0, IPPROTO_ICMPV6]);
    sum = add(sum, message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds the unsolicited neighbour advertisement frame announcing that `ip` is at `mac`
/// (layout in the module documentation).
pub fn unsolicited_na_frame(mac: [u8; 6], ip: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    // Ethernet II header.
    f[0..6].copy_from_slice(&ALL_NODES_MAC);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6 header: version 6, traffic class 0, flow label 0.
    f[14] = 0x60;
    f[18..20].copy_from_slice(&(NA_ICMP_LEN as u16).to_be_bytes()); // payload length
    f[20] = IPPROTO_ICMPV6; // next header
    f[21] = ND_HOP_LIMIT;
    f[22..38].copy_from_slice(&ip.octets()); // source
    f[38..54].copy_from_slice(&ALL_NODES.octets()); // destination
    // ICMPv6 neighbour advertisement.
    let icmp = &mut f[54..];
    icmp[0] = ND_NEIGHBOR_ADVERT;
    icmp[1] = 0; // code
    // icmp[2..4]: checksum, filled below; icmp[5..8]: reserved.
    icmp[4] = NA_FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&ip.octets()); // target address
    icmp[24] = ND_OPT_TARGET_LINKADDR;
    icmp[25] = 1; // option length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let checksum = icmpv6_checksum(ip, ALL_NODES, icmp);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());
    f
}

/// A packet socket ready to advertise one IPv6 address on one interface.
///
/// Like [`crate::garp::GarpSender`], dropping the last handle to it waits for an RCU grace
/// period in the kernel; let a detached process own the final close.
#[derive(Debug)]
pub struct NaSender {
    socket: PacketSocket,
    iface: String,
    frame: [u8; NA_FRAME_LEN],
}

impl NaSender {
    /// Opens a send-only packet socket for advertising `ip` at `mac` on interface `iface`
    /// (index `ifindex`).
    pub fn open(iface: &str, ifindex: u32, mac: [u8; 6], ip: Ipv6Addr) -> Result<Self, NdiscError> {
        let socket = PacketSocket::open(ifindex).map_err(|e| match e {
            OpenError::BadIndex(i) => NdiscError::BadIndex(i),
            OpenError::PermissionDenied => NdiscError::PermissionDenied,
            OpenError::Socket(e) => NdiscError::Socket(e),
        })?;
        Ok(Self {
            socket,
            iface: iface.to_owned(),
            frame: unsolicited_na_frame(mac, ip),
        })
    }

    /// Sends one step: one unsolicited neighbour advertisement.
    pub fn send_step(&self) -> Result<(), NdiscError> {
        self.socket
            .send(&self.frame, ETH_P_IPV6, ALL_NODES_MAC)
            .map_err(|source| NdiscError::Send {
                iface: self.iface.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn frame_bytes_are_exact() {
        let frame = unsolicited_na_frame(MAC, ip("2001:db8::10"));
        #[rustfmt::skip]
        let expected: [u8; NA_FRAME_LEN] = [
            0x33, 0x33, 0x00, 0x00, 0x00, 0x01, // ethernet destination: all-nodes multicast
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // ethernet source
            0x86, 0xdd,                         // ethertype IPv6
            0x60, 0x00, 0x00, 0x00,             // version 6, traffic class 0, flow label 0
            0x00, 0x20,                         // payload length 32
            58,                                 // next header ICMPv6
            255,                                // hop limit
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, // source
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,       // destination ff02::1
            136, 0,                             // type NA, code 0
            0x7a, 0xcd,                         // checksum (computed independently)
            0x20, 0x00, 0x00, 0x00,             // flags: override only
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, // target
            2, 1,                               // option: target link-layer address, 8 bytes
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // our MAC
        ];
        assert_eq!(frame, expected);
    }

    #[test]
    fn checksum_verifies_over_the_pseudo_header() {
        // Summing the message with its checksum in place gives all ones (RFC 1071), for any
        // target and MAC.
        for (target, mac) in [
            ("2001:db8::10", MAC),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", [0xff; 6]),
            ("fe80::1", [0; 6]),
        ] {
            let target = ip(target);
            let frame = unsolicited_na_frame(mac, target);
            assert_eq!(
                icmpv6_checksum(target, ALL_NODES, &frame[54..]),
                0,
                "{target}"
            );
        }
    }

    #[test]
    fn odd_length_messages_are_padded() {
        let src = ip("2001:db8::1");
        let even = icmpv6_checksum(src, ALL_NODES, &[1, 2, 3, 0]);
        let odd = icmpv6_checksum(src, ALL_NODES, &[1, 2, 3]);
        // Same words, but the length in the pseudo-header differs by one.
        assert_eq!(u32::from(!odd) + 1, u32::from(!even));
    }

    #[test]
    fn an_independent_decoder_sees_a_valid_unsolicited_override_advertisement() {
        use etherparse::{Icmpv6Type, NetSlice, SlicedPacket, TransportSlice};
        let target = ip("2001:db8::10");
        let frame = unsolicited_na_frame(MAC, target);
        let packet = SlicedPacket::from_ethernet(&frame).expect("parses");
        let Some(NetSlice::Ipv6(ipv6)) = &packet.net else {
            panic!("not IPv6: {packet:?}")
        };
        let header = ipv6.header();
        assert_eq!(header.hop_limit(), 255);
        assert_eq!(header.source_addr(), target);
        assert_eq!(header.destination_addr(), ALL_NODES);
        let Some(TransportSlice::Icmpv6(icmp)) = &packet.transport else {
            panic!("not ICMPv6: {packet:?}")
        };
        assert!(icmp.is_checksum_valid(target.octets(), ALL_NODES.octets()));
        let Icmpv6Type::NeighborAdvertisement(na) = icmp.icmp_type() else {
            panic!("not a neighbour advertisement: {:?}", icmp.icmp_type())
        };
        assert!(na.r#override && !na.solicited && !na.router);
        assert_eq!(icmp.payload(), &frame[62..]);
    }

    #[test]
    fn huge_interface_index_is_an_error_not_a_panic() {
        let err = NaSender::open("x", u32::MAX, MAC, Ipv6Addr::LOCALHOST).unwrap_err();
        assert!(matches!(err, NdiscError::BadIndex(u32::MAX)));
    }
}
