//! Service addresses (IPv4 and IPv6) over rtnetlink: interface lookup, add, delete, presence
//! tests and "which interface serves this subnet".
//!
//! The value types ([`Ipv4Net`], [`IpNet`], [`Interface`], [`IfAddr`]) and the
//! validation/selection functions are pure and unit-tested; [`Netlink`] is the thin async
//! adapter over the `rtnetlink` crate that the `hb-addr` helper (and later the daemon) uses.
//! Every request is a single netlink round trip; nothing here spawns a process.
//!
//! Layout: `net` holds the address values, `parse` the parsing and checking of operator
//! input, `select` the interface values and the choice of interface for an address, and
//! `netlink` the adapter; everything public is re-exported here.
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

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod net;
mod netlink;
mod parse;
mod select;

pub use net::{IpNet, Ipv4Net};
pub use netlink::Netlink;
pub use parse::{
    check_assignable, check_assignable_ip, check_family_options, check_ifname, check_label,
    parse_host_spec, parse_ip, parse_ipv4, parse_ipv6_prefix, parse_prefix, parse_spec,
};
pub use select::{AddOutcome, AddRequest, DelOutcome, IfAddr, Interface, select_interface};

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
