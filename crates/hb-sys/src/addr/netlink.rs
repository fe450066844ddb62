//! The rtnetlink adapter: one netlink round trip per request, and the conversion of the
//! kernel's link and address messages into [`Interface`] and [`IfAddr`].

use std::io;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage};
use rtnetlink::{Handle, LinkUnspec};

use super::{
    AddOutcome, AddRequest, AddrError, DelOutcome, IfAddr, Interface, IpNet, check_assignable_ip,
    check_family_options, check_ifname, check_label, select_interface,
};

/// A connection to the kernel's routing netlink (the current network namespace).
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

const EEXIST: i32 = libc::EEXIST;

fn errno_of(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
        _ => None,
    }
}

fn nl_error(op: &'static str, err: rtnetlink::Error) -> AddrError {
    match err {
        rtnetlink::Error::NetlinkError(msg) => {
            let errno = msg.raw_code().abs();
            if errno == libc::EPERM || errno == libc::EACCES {
                AddrError::PermissionDenied { op }
            } else {
                AddrError::Netlink {
                    op,
                    source: io::Error::from_raw_os_error(errno),
                }
            }
        }
        other => AddrError::Netlink {
            op,
            source: io::Error::other(other.to_string()),
        },
    }
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl Netlink {
    /// Opens a netlink socket and spawns its driver task on the current tokio runtime.
    pub fn connect() -> Result<Self, AddrError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AddrError::NoRuntime)?;
        let (connection, handle, _) = rtnetlink::new_connection().map_err(AddrError::Connect)?;
        runtime.spawn(connection);
        Ok(Self { handle })
    }

    /// The interface called `name`, with its IPv4 and IPv6 addresses.
    pub async fn interface(&self, name: &str) -> Result<Interface, AddrError> {
        check_ifname(name)?;
        let mut links = self.handle.link().get().match_name(name).execute();
        let msg = match links.try_next().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Err(AddrError::InterfaceNotFound(name.to_owned())),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => {
                return Err(AddrError::InterfaceNotFound(name.to_owned()));
            }
            Err(e) => return Err(nl_error("link lookup", e)),
        };
        let mut iface = link_from_message(&msg);
        iface.addrs = self
            .addresses(Some(iface.index))
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        Ok(iface)
    }

    /// Every interface, with its IPv4 and IPv6 addresses.
    pub async fn interfaces(&self) -> Result<Vec<Interface>, AddrError> {
        let mut ifaces: Vec<Interface> = self
            .handle
            .link()
            .get()
            .execute()
            .map_ok(|msg| link_from_message(&msg))
            .try_collect()
            .await
            .map_err(|e| nl_error("link dump", e))?;
        for (index, addr) in self.addresses(None).await? {
            if let Some(iface) = ifaces.iter_mut().find(|i| i.index == index) {
                iface.addrs.push(addr);
            }
        }
        Ok(ifaces)
    }

    /// IPv4 and IPv6 addresses as (interface index, address), of one interface or of all.
    pub async fn addresses(&self, index: Option<u32>) -> Result<Vec<(u32, IfAddr)>, AddrError> {
        self.dump(index, None).await
    }

    /// Addresses of one family (`None`: both), of one interface or of all.
    async fn dump(
        &self,
        index: Option<u32>,
        family: Option<AddressFamily>,
    ) -> Result<Vec<(u32, IfAddr)>, AddrError> {
        let mut request = self.handle.address().get();
        if let Some(family) = family {
            // The kernel then dumps only that family.
            request.message_mut().header.family = family;
        }
        if let Some(index) = index {
            request = request.set_link_index_filter(index);
        }
        let msgs: Vec<AddressMessage> = request
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_error("address dump", e))?;
        Ok(msgs
            .iter()
            .filter_map(|m| addr_from_message(m).map(|a| (m.header.index, a)))
            .collect())
    }

    /// The interface whose subnet contains `ip` (see [`select_interface`]) and that prefix.
    pub async fn find_interface(
        &self,
        ip: impl Into<IpAddr>,
    ) -> Result<(Interface, u8), AddrError> {
        let ifaces = self.interfaces().await?;
        select_interface(&ifaces, ip).map(|(iface, prefix)| (iface.clone(), prefix))
    }

    /// Whether `ip` (with exactly `prefix`, if given) is configured, on interface `index` if
    /// given, else anywhere.
    pub async fn is_present(
        &self,
        ip: impl Into<IpAddr>,
        prefix: Option<u8>,
        index: Option<u32>,
    ) -> Result<bool, AddrError> {
        let ip = ip.into();
        Ok(self
            .dump(index, Some(family_of(ip)))
            .await?
            .iter()
            .any(|(_, a)| a.net.addr() == ip && prefix.is_none_or(|p| a.net.prefix() == p)))
    }

    /// Sets the interface administratively up (`ip link set dev IFACE up`).
    pub async fn set_up(&self, iface: &Interface) -> Result<(), AddrError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(iface.index).up().build())
            .execute()
            .await
            .map_err(|e| nl_error("link up", e))
    }

    /// Adds `req` to `iface`. `iface.addrs` must be fresh (from [`Netlink::interface`] or
    /// [`Netlink::interfaces`]): it decides "already present" and "prefix conflict".
    pub async fn add(&self, iface: &Interface, req: &AddRequest) -> Result<AddOutcome, AddrError> {
        let ip = req.net.addr();
        check_assignable_ip(ip)?;
        check_family_options(ip, req.label.as_deref(), req.broadcast.is_some())?;
        if let Some(label) = &req.label {
            check_label(label, &iface.name)?;
        }
        if let Some(existing) = iface.entries(ip, None).next() {
            if existing.net.prefix() == req.net.prefix() {
                return Ok(AddOutcome::AlreadyPresent);
            }
            return Err(AddrError::PrefixConflict {
                ip,
                iface: iface.name.clone(),
                existing: existing.net.prefix(),
                wanted: req.net.prefix(),
            });
        }
        let mut request = self.handle.address().add(iface.index, ip, req.net.prefix());
        let msg = request.message_mut();
        // The builder derives a broadcast itself; replace it with ours.
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        match ip {
            IpAddr::V4(ip4) => {
                // Like `ip addr add`: 127/8 addresses are host-scoped (and must match the
                // scope of 127.0.0.1/8 to join its subnet), all others global.
                if ip4.is_loopback() {
                    msg.header.scope = AddressScope::Host;
                }
                if let Some(brd) = req.broadcast.or_else(|| req.net.default_broadcast()) {
                    msg.attributes.push(AddressAttribute::Broadcast(brd));
                }
                if let Some(label) = &req.label {
                    msg.attributes.push(AddressAttribute::Label(label.clone()));
                }
            }
            IpAddr::V6(_) => {
                // No duplicate address detection: the address is usable at once (a tentative
                // address can be neither a source nor answer neighbour solicitations for ~1 s).
                // As iproute2 does, in the header and, for newer kernels, in IFA_FLAGS.
                msg.header.flags |= AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match request.execute().await {
            Ok(()) => Ok(AddOutcome::Added),
            // Someone added the same address/prefix between our dump and our request.
            Err(e) if errno_of(&e) == Some(EEXIST) => Ok(AddOutcome::AlreadyPresent),
            Err(e) => Err(nl_error("address add", e)),
        }
    }

    /// Removes `ip` from `iface` (only entries with exactly `prefix`, if given). `iface.addrs`
    /// must be fresh.
    pub async fn delete(
        &self,
        iface: &Interface,
        ip: impl Into<IpAddr>,
        prefix: Option<u8>,
    ) -> Result<DelOutcome, AddrError> {
        let ip = ip.into();
        let targets: Vec<&IfAddr> = iface.entries(ip, prefix).collect();
        if targets.is_empty() {
            return Ok(match iface.entries(ip, None).next() {
                Some(other) => DelOutcome::OtherPrefix(other.net.prefix()),
                None => DelOutcome::NotPresent,
            });
        }
        let mut removed = 0;
        for target in targets {
            let mut msg = AddressMessage::default();
            msg.header.family = family_of(ip);
            msg.header.prefix_len = target.net.prefix();
            msg.header.index = iface.index;
            msg.attributes.push(AddressAttribute::Local(ip));
            msg.attributes
                .push(AddressAttribute::Address(target.peer.unwrap_or(ip)));
            match self.handle.address().del(msg).execute().await {
                Ok(()) => removed += 1,
                // Gone between our dump and our request: that is what we wanted.
                Err(e) if matches!(errno_of(&e), Some(libc::EADDRNOTAVAIL | libc::ENOENT)) => {}
                Err(e) => return Err(nl_error("address delete", e)),
            }
        }
        Ok(if removed == 0 {
            DelOutcome::NotPresent
        } else {
            DelOutcome::Removed(removed)
        })
    }
}

fn link_from_message(msg: &LinkMessage) -> Interface {
    let mut name = String::new();
    let mut hwaddr: Option<&[u8]> = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name.clone_from(n),
            LinkAttribute::Address(a) => hwaddr = Some(a),
            _ => {}
        }
    }
    let flags = msg.header.flags;
    let ether = msg.header.link_layer_type == LinkLayerType::Ether;
    let mac = hwaddr
        .filter(|_| ether)
        .and_then(|a| <[u8; 6]>::try_from(a).ok());
    Interface {
        name,
        index: msg.header.index,
        mac,
        up: flags.contains(LinkFlags::Up),
        arp: ether && mac.is_some() && !flags.intersects(LinkFlags::Noarp | LinkFlags::Loopback),
        addrs: Vec::new(),
    }
}

fn addr_from_message(msg: &AddressMessage) -> Option<IfAddr> {
    let family = msg.header.family;
    if family != AddressFamily::Inet && family != AddressFamily::Inet6 {
        return None;
    }
    let mut local = None;
    let mut address = None;
    let mut broadcast = None;
    let mut label = None;
    let mut secondary = msg.header.flags.contains(AddressHeaderFlags::Secondary);
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Broadcast(b) => broadcast = Some(*b),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Flags(f) => secondary |= f.contains(AddressFlags::Secondary),
            _ => {}
        }
    }
    let addr = local.or(address)?;
    if family_of(addr) != family {
        return None;
    }
    let net = IpNet::new(addr, msg.header.prefix_len).ok()?;
    Some(IfAddr {
        net,
        peer: address.filter(|a| *a != addr),
        broadcast,
        label,
        secondary,
    })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::addr::Ipv4Net;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn address_messages_decode_to_ifaddrs() {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = 24;
        msg.header.flags = AddressHeaderFlags::Secondary;
        msg.header.index = 7;
        msg.attributes = vec![
            AddressAttribute::Address(IpAddr::V4(ip("192.0.2.100"))),
            AddressAttribute::Local(IpAddr::V4(ip("192.0.2.100"))),
            AddressAttribute::Broadcast(ip("192.0.2.255")),
            AddressAttribute::Label("eth0:0".into()),
        ];
        let a = addr_from_message(&msg).unwrap();
        assert_eq!(
            a,
            IfAddr {
                net: net("192.0.2.100/24").into(),
                peer: None,
                broadcast: Some(ip("192.0.2.255")),
                label: Some("eth0:0".into()),
                secondary: true,
            }
        );
        msg.header.family = AddressFamily::Inet6;
        assert!(addr_from_message(&msg).is_none());
    }

    #[test]
    fn link_messages_decode_to_interfaces() {
        let mut msg = LinkMessage::default();
        msg.header.index = 3;
        msg.header.link_layer_type = LinkLayerType::Ether;
        msg.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        msg.attributes = vec![
            LinkAttribute::IfName("eth0".into()),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
        ];
        let i = link_from_message(&msg);
        assert_eq!(
            (i.name.as_str(), i.index, i.up, i.arp),
            ("eth0", 3, true, true)
        );
        assert_eq!(i.mac, Some([2, 0, 0, 0, 0, 1]));
        msg.header.flags = LinkFlags::Noarp;
        let i = link_from_message(&msg);
        assert!(!i.up && !i.arp);
        msg.header.link_layer_type = LinkLayerType::Loopback;
        msg.header.flags = LinkFlags::Up | LinkFlags::Loopback;
        assert!(!link_from_message(&msg).arp);
    }

    #[test]
    fn connect_outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(Netlink::connect(), Err(AddrError::NoRuntime)));
    }

    #[test]
    fn ipv6_address_messages_decode_to_ifaddrs() {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet6;
        msg.header.prefix_len = 64;
        msg.header.flags = AddressHeaderFlags::Nodad | AddressHeaderFlags::Permanent;
        msg.header.index = 4;
        msg.attributes = vec![
            AddressAttribute::Address(IpAddr::V6(ip6("2001:db8::10"))),
            AddressAttribute::Flags(AddressFlags::Nodad | AddressFlags::Permanent),
        ];
        let a = addr_from_message(&msg).unwrap();
        assert_eq!(
            a,
            IfAddr {
                net: "2001:db8::10/64".parse().unwrap(),
                peer: None,
                broadcast: None,
                label: None,
                secondary: false,
            }
        );
        // A point-to-point entry: IFA_LOCAL is ours, IFA_ADDRESS the peer.
        msg.attributes = vec![
            AddressAttribute::Local(IpAddr::V6(ip6("2001:db8::10"))),
            AddressAttribute::Address(IpAddr::V6(ip6("2001:db8::20"))),
        ];
        let a = addr_from_message(&msg).unwrap();
        assert_eq!(a.net.addr(), IpAddr::V6(ip6("2001:db8::10")));
        assert_eq!(a.peer, Some(IpAddr::V6(ip6("2001:db8::20"))));
        // A prefix longer than 128 bits is garbage, not a panic.
        msg.header.prefix_len = 200;
        assert!(addr_from_message(&msg).is_none());
        // Other families are skipped.
        msg.header.prefix_len = 64;
        msg.header.family = AddressFamily::Packet;
        assert!(addr_from_message(&msg).is_none());
    }
}
