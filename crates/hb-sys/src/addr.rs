//! Service addresses (IPv4 and IPv6) over rtnetlink: interface lookup, add, delete, presence
//! tests and "which interface serves this subnet".
//!
//! The value types ([`Ipv4Net`], [`IpNet`], [`Interface`], [`IfAddr`]) and the
//! validation/selection functions are pure and unit-tested; [`Netlink`] is the thin async
//! adapter over the `rtnetlink` crate that the `hb-addr` helper (and later the daemon) uses.
//! Every request is a single netlink round trip; nothing here spawns a process.
//!
//! Semantics (matching what `ip addr add ... brd +` and heartbeat's IPaddr2 do):
//! - an add of an address that is already configured on the interface with the same prefix
//!   succeeds ([`AddOutcome::AlreadyPresent`]); with a different prefix it is refused
//!   ([`AddrError::PrefixConflict`]) rather than creating a second entry;
//! - a delete of an address that is not configured succeeds ([`DelOutcome::NotPresent`]);
//! - 127.0.0.0/8 addresses get host scope, all others global (as `ip addr add` does; the
//!   kernel derives the scope of IPv6 addresses itself);
//! - the default broadcast is the subnet's all-ones host address for prefixes up to /30 and
//!   none for /31 and /32;
//! - IPv6 addresses are added with `IFA_F_NODAD` (`ip addr add ... nodad`): usable at once,
//!   instead of "tentative" for the ~1 s of duplicate address detection, which would delay a
//!   takeover; IPv6 has no broadcast and the kernel keeps no labels for it, so both are
//!   refused ([`AddrError::BroadcastOnIpv6`], [`AddrError::LabelOnIpv6`]).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage};
use rtnetlink::{Handle, LinkUnspec};

/// Longest interface name or address label the kernel accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// Errors of address management. Messages are complete sentences for an operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Text that is not a dotted-quad IPv4 address.
    #[error("invalid IPv4 address '{0}'")]
    InvalidAddress(String),
    /// Text with a `:` that is not an IPv6 address.
    #[error("invalid IPv6 address '{0}'")]
    InvalidIpv6Address(String),
    /// An IPv4 address that can never be assigned to an interface.
    #[error("{0} cannot be a service address (unspecified, multicast or limited broadcast)")]
    UnusableAddress(Ipv4Addr),
    /// An IPv6 address that can never be a service address.
    #[error("{0} cannot be a service address (unspecified, multicast or IPv4-mapped)")]
    UnusableIpv6Address(Ipv6Addr),
    /// A prefix that is neither 0-32 nor a contiguous dotted netmask.
    #[error("invalid prefix length or netmask '{0}' (expected 0-32 or a dotted netmask)")]
    InvalidPrefix(String),
    /// An IPv6 prefix length that is not 0-128.
    #[error("invalid IPv6 prefix length '{0}' (expected 0-128)")]
    InvalidIpv6Prefix(String),
    /// An interface name the kernel would reject.
    #[error("invalid interface name '{0}'")]
    InvalidInterfaceName(String),
    /// An address label the kernel (or iproute2's rules) would reject.
    #[error("invalid label '{label}': {reason}")]
    InvalidLabel {
        /// The label as given.
        label: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A label asked for an IPv6 address: the kernel keeps labels for IPv4 only.
    #[error(
        "{ip}: IPv6 addresses cannot have a label (the kernel keeps labels for IPv4 only); drop label '{label}'"
    )]
    LabelOnIpv6 {
        /// The address.
        ip: Ipv6Addr,
        /// The label asked for.
        label: String,
    },
    /// A broadcast address asked for an IPv6 address.
    #[error("{0}: IPv6 has no broadcast addresses; drop the broadcast")]
    BroadcastOnIpv6(Ipv6Addr),
    /// No interface of that name exists in this network namespace.
    #[error("interface {0} not found")]
    InterfaceNotFound(String),
    /// No interface has a primary address whose subnet contains the address.
    #[error("no interface has a subnet containing {0}")]
    NoSubnet(IpAddr),
    /// The named interface has no primary address whose subnet contains the address.
    #[error("no subnet of interface {iface} contains {ip}; give the prefix explicitly")]
    NoSubnetOnInterface {
        /// The address looked for.
        ip: IpAddr,
        /// The interface searched.
        iface: String,
    },
    /// Two interfaces have equally long subnets containing the address.
    #[error("{ip} is in a /{prefix} subnet of both {first} and {second}; name the interface")]
    AmbiguousSubnet {
        /// The address looked for.
        ip: IpAddr,
        /// The common (longest) prefix length.
        prefix: u8,
        /// First interface found.
        first: String,
        /// Second interface found.
        second: String,
    },
    /// The address is already on the interface, but with another prefix length.
    #[error("{ip} is already configured on {iface} as /{existing}, not /{wanted}")]
    PrefixConflict {
        /// The address.
        ip: IpAddr,
        /// The interface it is on.
        iface: String,
        /// Its configured prefix length.
        existing: u8,
        /// The prefix length asked for.
        wanted: u8,
    },
    /// The kernel refused for lack of privilege (CAP_NET_ADMIN).
    #[error("permission denied: {op} needs CAP_NET_ADMIN")]
    PermissionDenied {
        /// What was attempted.
        op: &'static str,
    },
    /// [`Netlink::connect`] was called outside a tokio runtime.
    #[error("no tokio runtime to drive the netlink connection")]
    NoRuntime,
    /// The netlink socket could not be opened.
    #[error("cannot open rtnetlink socket: {0}")]
    Connect(#[source] io::Error),
    /// A netlink request failed.
    #[error("netlink {op} failed: {source}")]
    Netlink {
        /// What was attempted.
        op: &'static str,
        /// The kernel's (or the transport's) error.
        #[source]
        source: io::Error,
    },
}

/// An IPv4 address together with its prefix length (a host address in a subnet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// `addr/prefix`; fails when `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, AddrError> {
        if prefix > 32 {
            return Err(AddrError::InvalidPrefix(prefix.to_string()));
        }
        Ok(Self { addr, prefix })
    }

    /// The host address.
    pub const fn addr(self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length, 0-32.
    pub const fn prefix(self) -> u8 {
        self.prefix
    }

    /// The netmask as a dotted quad.
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix))
    }

    /// The subnet's network address.
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask_bits(self.prefix))
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        let mask = mask_bits(self.prefix);
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }

    /// The broadcast address `ip addr add ... brd +` would set: all host bits set, for
    /// prefixes up to /30; `None` for /31 (RFC 3021 point-to-point) and /32.
    pub fn default_broadcast(self) -> Option<Ipv4Addr> {
        (self.prefix <= 30).then(|| Ipv4Addr::from(u32::from(self.addr) | !mask_bits(self.prefix)))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = AddrError;

    /// `IP/PREFIX`, the prefix as bits (`24`) or as a dotted netmask (`255.255.255.0`).
    fn from_str(s: &str) -> Result<Self, AddrError> {
        match parse_host_spec(s)? {
            (addr, Some(prefix)) => Ok(Self { addr, prefix }),
            (_, None) => Err(AddrError::InvalidPrefix(String::new())),
        }
    }
}

fn mask_bits(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask_bits_v6(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// An IPv4 or IPv6 address together with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `addr/prefix`; fails when the prefix is longer than the address (32 or 128 bits).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, AddrError> {
        match addr {
            IpAddr::V4(_) if prefix > 32 => Err(AddrError::InvalidPrefix(prefix.to_string())),
            IpAddr::V6(_) if prefix > 128 => Err(AddrError::InvalidIpv6Prefix(prefix.to_string())),
            _ => Ok(Self { addr, prefix }),
        }
    }

    /// The host address.
    pub const fn addr(self) -> IpAddr {
        self.addr
    }

    /// The prefix length (0-32 or 0-128).
    pub const fn prefix(self) -> u8 {
        self.prefix
    }

    /// The IPv4 form, for an IPv4 address.
    pub fn v4(self) -> Option<Ipv4Net> {
        match self.addr {
            IpAddr::V4(addr) => Some(Ipv4Net {
                addr,
                prefix: self.prefix,
            }),
            IpAddr::V6(_) => None,
        }
    }

    /// Whether `ip` lies in this subnet (never for an address of the other family).
    pub fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(ip)) => self.v4().is_some_and(|n| n.contains(ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_bits_v6(self.prefix);
                u128::from(ip) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }

    /// [`Ipv4Net::default_broadcast`] for IPv4; `None` for IPv6.
    pub fn default_broadcast(self) -> Option<Ipv4Addr> {
        self.v4().and_then(Ipv4Net::default_broadcast)
    }
}

impl From<Ipv4Net> for IpNet {
    fn from(net: Ipv4Net) -> Self {
        Self {
            addr: IpAddr::V4(net.addr),
            prefix: net.prefix,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = AddrError;

    /// `IP/PREFIX` of either family (see [`parse_spec`]); the prefix is required.
    fn from_str(s: &str) -> Result<Self, AddrError> {
        match parse_spec(s)? {
            (addr, Some(prefix)) => Self::new(addr, prefix),
            (IpAddr::V4(_), None) => Err(AddrError::InvalidPrefix(String::new())),
            (IpAddr::V6(_), None) => Err(AddrError::InvalidIpv6Prefix(String::new())),
        }
    }
}

/// Parses a strict dotted-quad IPv4 address (`300.1.1.1`, `1.2.3`, `01.2.3.4` are refused).
pub fn parse_ipv4(s: &str) -> Result<Ipv4Addr, AddrError> {
    Ipv4Addr::from_str(s).map_err(|_| AddrError::InvalidAddress(s.to_owned()))
}

/// Parses an IPv4 address (see [`parse_ipv4`]) or, when the text contains a `:`, an IPv6
/// address in RFC 4291 text form (no zone index, no brackets).
pub fn parse_ip(s: &str) -> Result<IpAddr, AddrError> {
    if s.contains(':') {
        Ipv6Addr::from_str(s)
            .map(IpAddr::V6)
            .map_err(|_| AddrError::InvalidIpv6Address(s.to_owned()))
    } else {
        parse_ipv4(s).map(IpAddr::V4)
    }
}

/// Parses a prefix length (`0`-`32`) or a contiguous dotted netmask (`255.255.255.0`).
pub fn parse_prefix(s: &str) -> Result<u8, AddrError> {
    let invalid = || AddrError::InvalidPrefix(s.to_owned());
    if s.contains('.') {
        let mask = u32::from(Ipv4Addr::from_str(s).map_err(|_| invalid())?);
        let prefix = mask.leading_ones();
        if mask_bits(prefix as u8) != mask {
            return Err(invalid());
        }
        return u8::try_from(prefix).map_err(|_| invalid());
    }
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 32 => Ok(p),
        _ => Err(invalid()),
    }
}

/// Parses an IPv6 prefix length: `0`-`128`, decimal digits only.
pub fn parse_ipv6_prefix(s: &str) -> Result<u8, AddrError> {
    let invalid = || AddrError::InvalidIpv6Prefix(s.to_owned());
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 128 => Ok(p),
        _ => Err(invalid()),
    }
}

/// Parses `IP` or `IP/PREFIX` (prefix as bits or dotted netmask) and checks that the address
/// can be assigned to an interface (see [`check_assignable`]). IPv4 only; see [`parse_spec`].
pub fn parse_host_spec(s: &str) -> Result<(Ipv4Addr, Option<u8>), AddrError> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, prefix)) => (ip, Some(parse_prefix(prefix)?)),
        None => (s, None),
    };
    let ip = parse_ipv4(ip)?;
    check_assignable(ip)?;
    Ok((ip, prefix))
}

/// Parses `IP` or `IP/PREFIX` of either family: an IPv4 address with a prefix of 0-32 bits or
/// a dotted netmask, or an IPv6 address with a prefix of 0-128 bits. The address is checked
/// first (so `300.1.1.1/99` is an address error) and must be assignable (see
/// [`check_assignable_ip`]).
pub fn parse_spec(s: &str) -> Result<(IpAddr, Option<u8>), AddrError> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (s, None),
    };
    let ip = parse_ip(ip)?;
    let prefix = match (ip, prefix) {
        (_, None) => None,
        (IpAddr::V4(_), Some(p)) => Some(parse_prefix(p)?),
        (IpAddr::V6(_), Some(p)) => Some(parse_ipv6_prefix(p)?),
    };
    check_assignable_ip(ip)?;
    Ok((ip, prefix))
}

/// Refuses addresses that can never be a host address: 0.0.0.0, multicast, 255.255.255.255.
pub fn check_assignable(ip: Ipv4Addr) -> Result<(), AddrError> {
    if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
        return Err(AddrError::UnusableAddress(ip));
    }
    Ok(())
}

/// [`check_assignable`] for IPv4; for IPv6 refuses `::`, multicast and IPv4-mapped
/// (`::ffff:a.b.c.d`) addresses.
pub fn check_assignable_ip(ip: IpAddr) -> Result<(), AddrError> {
    match ip {
        IpAddr::V4(ip) => check_assignable(ip),
        IpAddr::V6(ip) => {
            if ip.is_unspecified() || ip.is_multicast() || ip.to_ipv4_mapped().is_some() {
                return Err(AddrError::UnusableIpv6Address(ip));
            }
            Ok(())
        }
    }
}

/// Checks an interface name the way the kernel does: 1-15 bytes, not `.`/`..`, no `/`, `:` or
/// white space.
pub fn check_ifname(name: &str) -> Result<(), AddrError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_IFNAME_LEN
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AddrError::InvalidInterfaceName(name.to_owned()))
    }
}

/// Checks an address label for device `dev`: at most 15 bytes and either `dev` itself or
/// `dev:` followed by at least one character (the rule `ip addr add ... label` enforces).
pub fn check_label(label: &str, dev: &str) -> Result<(), AddrError> {
    let invalid = |reason: String| AddrError::InvalidLabel {
        label: label.to_owned(),
        reason,
    };
    if label.len() > MAX_IFNAME_LEN {
        return Err(invalid(format!("longer than {MAX_IFNAME_LEN} characters")));
    }
    if label
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "contains '/', white space or control characters".into(),
        ));
    }
    let ok = label == dev
        || label
            .strip_prefix(dev)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|suffix| !suffix.is_empty());
    if !ok {
        return Err(invalid(format!("must be '{dev}' or start with '{dev}:'")));
    }
    Ok(())
}

/// Checks that `label` and `broadcast` make sense for `ip`: IPv6 addresses have neither.
pub fn check_family_options(
    ip: IpAddr,
    label: Option<&str>,
    broadcast: bool,
) -> Result<(), AddrError> {
    let IpAddr::V6(ip) = ip else { return Ok(()) };
    if let Some(label) = label {
        return Err(AddrError::LabelOnIpv6 {
            ip,
            label: label.to_owned(),
        });
    }
    if broadcast {
        return Err(AddrError::BroadcastOnIpv6(ip));
    }
    Ok(())
}

/// One address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// Local address and prefix length.
    pub net: IpNet,
    /// The peer address of a point-to-point entry (IFA_ADDRESS when it differs from the local).
    pub peer: Option<IpAddr>,
    /// Broadcast address, if any (IPv4 only).
    pub broadcast: Option<Ipv4Addr>,
    /// Address label (`eth0`, `eth0:0`), if the kernel reported one (IPv4 only).
    pub label: Option<String>,
    /// Whether the kernel marked it secondary (another address of the same subnet is primary;
    /// IPv4 only).
    pub secondary: bool,
}

/// A network interface with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Device name.
    pub name: String,
    /// Kernel interface index.
    pub index: u32,
    /// Ethernet hardware address, when the link has one.
    pub mac: Option<[u8; 6]>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Whether the link resolves neighbours (Ethernet, not loopback, no IFF_NOARP): ARP for
    /// IPv4, neighbour discovery for IPv6.
    pub arp: bool,
    /// IPv4 and IPv6 addresses, in kernel order.
    pub addrs: Vec<IfAddr>,
}

impl Interface {
    /// The entries for `ip` (with exactly `prefix`, if given).
    pub fn entries(
        &self,
        ip: impl Into<IpAddr>,
        prefix: Option<u8>,
    ) -> impl Iterator<Item = &IfAddr> {
        let ip = ip.into();
        self.addrs
            .iter()
            .filter(move |a| a.net.addr() == ip && prefix.is_none_or(|p| a.net.prefix() == p))
    }

    /// Whether `ip` (with exactly `prefix`, if given) is configured here.
    pub fn has(&self, ip: impl Into<IpAddr>, prefix: Option<u8>) -> bool {
        self.entries(ip, prefix).next().is_some()
    }
}

/// What [`Netlink::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The address was added.
    Added,
    /// The address was already configured with the same prefix; nothing changed.
    AlreadyPresent,
}

/// What [`Netlink::delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelOutcome {
    /// This many entries were removed.
    Removed(usize),
    /// The address was not configured on the interface.
    NotPresent,
    /// The address is configured, but with another prefix length; it was left alone.
    OtherPrefix(u8),
}

/// An address to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRequest {
    /// Address and prefix.
    pub net: IpNet,
    /// Label (checked with [`check_label`] against the interface; IPv4 only).
    pub label: Option<String>,
    /// Broadcast; `None` means [`Ipv4Net::default_broadcast`] (IPv4 only).
    pub broadcast: Option<Ipv4Addr>,
}

/// The interface whose configured subnet contains `ip`: the longest matching prefix among
/// primary addresses of the same family. Returns the interface and that prefix length.
///
/// Secondary addresses are skipped (they sit in a subnet some primary already covers) and so
/// are /0 entries. Two interfaces tying on the longest prefix is an error. For IPv6 every
/// address counts (IPv6 has no secondaries); a link-local address only matches the fe80::/64
/// of every interface, so it needs an explicit interface.
pub fn select_interface(
    ifaces: &[Interface],
    ip: impl Into<IpAddr>,
) -> Result<(&Interface, u8), AddrError> {
    let ip = ip.into();
    let mut best: Option<(&Interface, u8)> = None;
    let mut tie: Option<&Interface> = None;
    for iface in ifaces {
        let longest = iface
            .addrs
            .iter()
            .filter(|a| !a.secondary && a.net.prefix() > 0 && a.net.contains(ip))
            .map(|a| a.net.prefix())
            .max();
        let Some(prefix) = longest else { continue };
        match best {
            Some((_, p)) if p > prefix => {}
            Some((_, p)) if p == prefix => tie = Some(iface),
            _ => {
                best = Some((iface, prefix));
                tie = None;
            }
        }
    }
    match (best, tie) {
        (None, _) => Err(AddrError::NoSubnet(ip)),
        (Some((first, prefix)), Some(second)) => Err(AddrError::AmbiguousSubnet {
            ip,
            prefix,
            first: first.name.clone(),
            second: second.name.clone(),
        }),
        (Some(found), None) => Ok(found),
    }
}

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
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn iface(name: &str, index: u32, addrs: &[(&str, bool)]) -> Interface {
        Interface {
            name: name.into(),
            index,
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            up: true,
            arp: true,
            addrs: addrs
                .iter()
                .map(|(n, secondary)| IfAddr {
                    net: n.parse().unwrap(),
                    peer: None,
                    broadcast: None,
                    label: None,
                    secondary: *secondary,
                })
                .collect(),
        }
    }

    #[test]
    fn default_broadcast_sets_all_host_bits() {
        assert_eq!(
            net("192.0.2.100/24").default_broadcast(),
            Some(ip("192.0.2.255"))
        );
        assert_eq!(
            net("10.10.10.100/8").default_broadcast(),
            Some(ip("10.255.255.255"))
        );
        assert_eq!(
            net("198.51.100.5/25").default_broadcast(),
            Some(ip("198.51.100.127"))
        );
        assert_eq!(
            net("198.51.100.200/25").default_broadcast(),
            Some(ip("198.51.100.255"))
        );
        assert_eq!(
            net("203.0.113.9/30").default_broadcast(),
            Some(ip("203.0.113.11"))
        );
        assert_eq!(
            net("192.0.2.1/0").default_broadcast(),
            Some(ip("255.255.255.255"))
        );
    }

    #[test]
    fn no_default_broadcast_for_31_and_32() {
        assert_eq!(net("203.0.113.8/31").default_broadcast(), None);
        assert_eq!(net("203.0.113.8/32").default_broadcast(), None);
    }

    #[test]
    fn netmask_network_and_contains() {
        let n = net("192.0.2.100/26");
        assert_eq!(n.netmask(), ip("255.255.255.192"));
        assert_eq!(n.network(), ip("192.0.2.64"));
        assert!(n.contains(ip("192.0.2.127")));
        assert!(!n.contains(ip("192.0.2.128")));
        assert!(net("192.0.2.1/0").contains(ip("203.0.113.1")));
        assert!(net("192.0.2.1/32").contains(ip("192.0.2.1")));
        assert!(!net("192.0.2.1/32").contains(ip("192.0.2.2")));
    }

    #[test]
    fn prefix_accepts_bits_and_dotted_masks() {
        assert_eq!(parse_prefix("24").unwrap(), 24);
        assert_eq!(parse_prefix("0").unwrap(), 0);
        assert_eq!(parse_prefix("32").unwrap(), 32);
        assert_eq!(parse_prefix("255.255.255.0").unwrap(), 24);
        assert_eq!(parse_prefix("255.255.128.0").unwrap(), 17);
        assert_eq!(parse_prefix("0.0.0.0").unwrap(), 0);
        assert_eq!(parse_prefix("255.255.255.255").unwrap(), 32);
    }

    #[test]
    fn prefix_rejects_garbage() {
        for bad in [
            "33",
            "",
            "-1",
            "+4",
            "2 4",
            "100",
            "255.0.255.0",
            "255.255.255.1",
            "1.2.3",
            "x",
        ] {
            assert!(
                matches!(parse_prefix(bad), Err(AddrError::InvalidPrefix(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn ipv4_parsing_is_strict() {
        assert_eq!(parse_ipv4("192.0.2.1").unwrap(), ip("192.0.2.1"));
        for bad in [
            "300.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            " 1.2.3.4",
            "",
            "eth0",
            "1.2.3.4/24",
        ] {
            assert!(
                matches!(parse_ipv4(bad), Err(AddrError::InvalidAddress(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn host_spec_with_and_without_prefix() {
        assert_eq!(
            parse_host_spec("192.0.2.100").unwrap(),
            (ip("192.0.2.100"), None)
        );
        assert_eq!(
            parse_host_spec("192.0.2.100/24").unwrap(),
            (ip("192.0.2.100"), Some(24))
        );
        assert_eq!(
            parse_host_spec("192.0.2.100/255.255.0.0").unwrap(),
            (ip("192.0.2.100"), Some(16))
        );
        assert!(matches!(
            parse_host_spec("192.0.2.100/"),
            Err(AddrError::InvalidPrefix(_))
        ));
        assert!(matches!(
            parse_host_spec("300.1.1.1/24"),
            Err(AddrError::InvalidAddress(_))
        ));
        assert!(matches!(
            parse_host_spec("192.0.2.1/24/eth0"),
            Err(AddrError::InvalidPrefix(_))
        ));
        assert_eq!(
            "192.0.2.100/24".parse::<Ipv4Net>().unwrap().to_string(),
            "192.0.2.100/24"
        );
        assert!("192.0.2.100".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn unassignable_addresses_are_refused() {
        for bad in ["0.0.0.0", "224.0.0.18", "239.1.2.3", "255.255.255.255"] {
            assert!(
                matches!(parse_host_spec(bad), Err(AddrError::UnusableAddress(_))),
                "{bad}"
            );
        }
        assert!(parse_host_spec("127.0.0.20").is_ok());
    }

    #[test]
    fn interface_names_follow_kernel_rules() {
        for good in ["eth0", "enp0s31f6", "veth-a.100", "a23456789012345"] {
            assert!(check_ifname(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "eth0:0", "a/b", "eth 0", "a234567890123456"] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels_must_start_with_the_device_name() {
        assert!(check_label("eth0", "eth0").is_ok());
        assert!(check_label("eth0:0", "eth0").is_ok());
        assert!(check_label("eth0:vip", "eth0").is_ok());
        let err = check_label("eth1:0", "eth0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid label 'eth1:0': must be 'eth0' or start with 'eth0:'"
        );
        assert!(check_label("eth0:", "eth0").is_err());
        assert!(check_label("eth00", "eth0").is_err());
        assert!(check_label("eth0:a b", "eth0").is_err());
        let long = check_label("eth0:0123456789a", "eth0").unwrap_err();
        assert!(long.to_string().contains("longer than 15"), "{long}");
    }

    #[test]
    fn select_prefers_the_longest_primary_prefix() {
        let ifaces = [
            iface("lo", 1, &[("127.0.0.1/8", false)]),
            iface("eth0", 2, &[("10.0.0.1/8", false)]),
            iface("eth1", 3, &[("10.1.0.1/16", false)]),
        ];
        let (found, prefix) = select_interface(&ifaces, ip("10.1.2.3")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth1", 16));
        let (found, prefix) = select_interface(&ifaces, ip("10.2.0.9")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth0", 8));
        let (found, prefix) = select_interface(&ifaces, ip("127.0.0.20")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("lo", 8));
    }

    #[test]
    fn select_ignores_secondaries_and_reports_no_subnet() {
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface(
                "eth1",
                3,
                &[("198.51.100.1/24", false), ("203.0.113.1/24", true)],
            ),
        ];
        let err = select_interface(&ifaces, ip("203.0.113.7")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no interface has a subnet containing 203.0.113.7"
        );
    }

    #[test]
    fn select_reports_ambiguity_only_at_the_longest_prefix() {
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface("eth1", 3, &[("192.0.2.2/24", false)]),
        ];
        let err = select_interface(&ifaces, ip("192.0.2.9")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "192.0.2.9 is in a /24 subnet of both eth0 and eth1; name the interface"
        );
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface("eth1", 3, &[("192.0.2.2/24", false)]),
            iface("eth2", 4, &[("192.0.2.3/25", false)]),
        ];
        let (found, prefix) = select_interface(&ifaces, ip("192.0.2.9")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth2", 25));
        // Two primaries of one interface are not ambiguous.
        let ifaces = [iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("192.0.2.200/24", false)],
        )];
        assert_eq!(select_interface(&ifaces, ip("192.0.2.9")).unwrap().1, 24);
    }

    #[test]
    fn entries_match_address_and_optional_prefix() {
        let eth0 = iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("192.0.2.100/24", true)],
        );
        assert!(eth0.has(ip("192.0.2.100"), None));
        assert!(eth0.has(ip("192.0.2.100"), Some(24)));
        assert!(!eth0.has(ip("192.0.2.100"), Some(25)));
        assert!(!eth0.has(ip("192.0.2.101"), None));
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

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn spec_parses_both_families() {
        assert_eq!(
            parse_spec("192.0.2.100/255.255.255.0").unwrap(),
            (IpAddr::V4(ip("192.0.2.100")), Some(24))
        );
        assert_eq!(
            parse_spec("2001:db8::10/64").unwrap(),
            (IpAddr::V6(ip6("2001:db8::10")), Some(64))
        );
        assert_eq!(
            parse_spec("2001:db8:0:0:0:0:0:10").unwrap(),
            (IpAddr::V6(ip6("2001:db8::10")), None)
        );
        assert_eq!(parse_spec("2001:db8::10/128").unwrap().1, Some(128));
        assert_eq!(parse_spec("2001:db8::10/0").unwrap().1, Some(0));
        // The address is checked first: its family decides what a prefix may be.
        assert!(matches!(
            parse_spec("300.1.1.1/99"),
            Err(AddrError::InvalidAddress(s)) if s == "300.1.1.1"
        ));
        for (bad, prefix) in [
            ("2001:db8::10/129", "129"),
            ("2001:db8::10/ffff:ffff::", "ffff:ffff::"),
            ("2001:db8::10/255.255.255.0", "255.255.255.0"),
            ("2001:db8::10/", ""),
            ("2001:db8::10/0064", "0064"),
            ("2001:db8::10/+64", "+64"),
        ] {
            assert!(
                matches!(parse_spec(bad), Err(AddrError::InvalidIpv6Prefix(p)) if p == prefix),
                "{bad:?}: {:?}",
                parse_spec(bad)
            );
        }
        for bad in [
            "2001:db8::g",
            "2001:db8:::1",
            "[2001:db8::1]",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8:9",
            ":",
        ] {
            assert!(
                matches!(parse_spec(bad), Err(AddrError::InvalidIpv6Address(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            parse_spec("2001:db8::g").unwrap_err().to_string(),
            "invalid IPv6 address '2001:db8::g'"
        );
        assert_eq!(
            parse_spec("2001:db8::1/129").unwrap_err().to_string(),
            "invalid IPv6 prefix length '129' (expected 0-128)"
        );
    }

    #[test]
    fn unassignable_ipv6_addresses_are_refused() {
        for bad in ["::", "ff02::1", "ff05::1:3", "::ffff:192.0.2.1"] {
            let err = parse_spec(bad).unwrap_err();
            assert!(matches!(err, AddrError::UnusableIpv6Address(_)), "{bad}");
        }
        assert_eq!(
            parse_spec("ff02::1").unwrap_err().to_string(),
            "ff02::1 cannot be a service address (unspecified, multicast or IPv4-mapped)"
        );
        for good in ["::1", "fe80::10", "fd00::1", "2001:db8::10"] {
            assert!(parse_spec(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn ipnet_contains_within_its_family_only() {
        let n: IpNet = "2001:db8:1::1/48".parse().unwrap();
        assert!(n.contains("2001:db8:1:ffff::9".parse().unwrap()));
        assert!(!n.contains("2001:db8:2::9".parse().unwrap()));
        assert!(!n.contains("192.0.2.1".parse().unwrap()));
        let all: IpNet = "2001:db8::1/0".parse().unwrap();
        assert!(all.contains("fd00::1".parse().unwrap()));
        let host: IpNet = "2001:db8::1/128".parse().unwrap();
        assert!(host.contains("2001:db8::1".parse().unwrap()));
        assert!(!host.contains("2001:db8::2".parse().unwrap()));
        let v4: IpNet = net("192.0.2.1/24").into();
        assert!(v4.contains("192.0.2.77".parse().unwrap()));
        assert!(!v4.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(v4.default_broadcast(), Some(ip("192.0.2.255")));
        assert_eq!(n.default_broadcast(), None);
        assert_eq!(n.to_string(), "2001:db8:1::1/48");
        assert!("2001:db8::1".parse::<IpNet>().is_err());
        assert!(matches!(
            IpNet::new(IpAddr::V6(ip6("2001:db8::1")), 129),
            Err(AddrError::InvalidIpv6Prefix(_))
        ));
        assert!(matches!(
            IpNet::new(IpAddr::V4(ip("192.0.2.1")), 33),
            Err(AddrError::InvalidPrefix(_))
        ));
    }

    #[test]
    fn ipv6_has_no_labels_and_no_broadcast() {
        let v6 = IpAddr::V6(ip6("2001:db8::10"));
        let v4 = IpAddr::V4(ip("192.0.2.10"));
        assert!(check_family_options(v4, Some("eth0:0"), true).is_ok());
        assert!(check_family_options(v6, None, false).is_ok());
        assert_eq!(
            check_family_options(v6, Some("eth0:0"), false)
                .unwrap_err()
                .to_string(),
            "2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps labels for IPv4 \
             only); drop label 'eth0:0'"
        );
        assert_eq!(
            check_family_options(v6, None, true)
                .unwrap_err()
                .to_string(),
            "2001:db8::10: IPv6 has no broadcast addresses; drop the broadcast"
        );
    }

    #[test]
    fn select_matches_ipv6_prefixes_and_ignores_the_other_family() {
        let ifaces = [
            iface("lo", 1, &[("127.0.0.1/8", false), ("::1/128", false)]),
            iface(
                "eth0",
                2,
                &[
                    ("192.0.2.1/24", false),
                    ("2001:db8::1/64", false),
                    ("fe80::1/64", false),
                ],
            ),
            iface(
                "eth1",
                3,
                &[("2001:db8::2/32", false), ("fe80::2/64", false)],
            ),
        ];
        let (found, prefix) = select_interface(&ifaces, ip6("2001:db8::10")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth0", 64));
        let (found, prefix) = select_interface(&ifaces, ip6("2001:db8:5::10")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth1", 32));
        assert_eq!(
            select_interface(&ifaces, ip6("2001:db9::1"))
                .unwrap_err()
                .to_string(),
            "no interface has a subnet containing 2001:db9::1"
        );
        // A link-local address matches every link's fe80::/64.
        assert!(matches!(
            select_interface(&ifaces, ip6("fe80::99")),
            Err(AddrError::AmbiguousSubnet { prefix: 64, .. })
        ));
        // An IPv4 address never matches an IPv6 subnet, even ::/0.
        let v6_only = [iface("eth0", 2, &[("2001:db8::1/0", false)])];
        assert!(matches!(
            select_interface(&v6_only, ip("192.0.2.5")),
            Err(AddrError::NoSubnet(_))
        ));
    }

    #[test]
    fn entries_of_an_interface_are_family_exact() {
        let eth0 = iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("2001:db8::10/64", false)],
        );
        assert!(eth0.has(ip6("2001:db8::10"), None));
        assert!(eth0.has(ip6("2001:db8::10"), Some(64)));
        assert!(!eth0.has(ip6("2001:db8::10"), Some(128)));
        assert!(!eth0.has(ip6("::ffff:192.0.2.1"), None));
        assert!(eth0.has(ip("192.0.2.1"), Some(24)));
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
