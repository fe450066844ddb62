//! What `add` and `validate` are asked to do: the address, interface, label and broadcast
//! checked before the kernel is asked anything, then completed from the kernel's view of the
//! interfaces.

use std::net::{IpAddr, Ipv4Addr};

use hb_sys::addr::{self, AddRequest, AddrError, Interface, IpNet, Ipv4Net, Netlink};
use hb_sys::garp::Burst;

use crate::cli::{AddArgs, Failure, parse_burst, parse_dev};

/// The broadcast asked for with `--broadcast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BroadcastSpec {
    /// `+`: all host bits set (the default).
    HostBitsSet,
    /// `-`: all host bits cleared (the network address).
    HostBitsCleared,
    /// An explicit address.
    Addr(Ipv4Addr),
}

impl BroadcastSpec {
    fn parse(text: &str) -> Result<Self, AddrError> {
        match text {
            "+" => Ok(Self::HostBitsSet),
            "-" => Ok(Self::HostBitsCleared),
            _ => addr::parse_ipv4(text).map(Self::Addr),
        }
    }

    /// The broadcast to configure for `net` (`None`: [`Ipv4Net::default_broadcast`]).
    fn resolve(self, net: Ipv4Net) -> Option<Ipv4Addr> {
        match self {
            Self::HostBitsSet => None,
            Self::HostBitsCleared => Some(net.network()),
            Self::Addr(a) => Some(a),
        }
    }
}

/// The label asked for: complete (`--label eth0:0`) or a suffix for whichever interface is
/// used (`--iflabel 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelSpec {
    Full(String),
    Suffix(String),
}

impl LabelSpec {
    fn for_device(&self, dev: &str) -> String {
        match self {
            Self::Full(label) => label.clone(),
            Self::Suffix(suffix) => format!("{dev}:{suffix}"),
        }
    }

    /// Checks what can be checked without knowing the device: a suffix is not empty, and
    /// neither a label nor a suffix contains '/', white space or control characters.
    fn check_shape(&self) -> Result<(), AddrError> {
        let text = match self {
            Self::Full(label) | Self::Suffix(label) => label,
        };
        let invalid = |reason: &str| AddrError::InvalidLabel {
            label: text.clone(),
            reason: reason.into(),
        };
        if matches!(self, Self::Suffix(_)) && text.is_empty() {
            return Err(invalid("empty"));
        }
        if text
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(invalid("contains '/', white space or control characters"));
        }
        Ok(())
    }

    /// Checks the label for `dev` (`addr::check_label`) and returns it.
    fn check(&self, dev: &str) -> Result<String, AddrError> {
        self.check_shape()?;
        let label = self.for_device(dev);
        addr::check_label(&label, dev)?;
        Ok(label)
    }
}

/// Everything `add` and `validate` take, checked as far as possible without the kernel.
#[derive(Debug)]
pub(crate) struct AddPlan {
    pub(crate) ip: IpAddr,
    prefix: Option<u8>,
    dev: Option<String>,
    label: Option<LabelSpec>,
    broadcast: Option<BroadcastSpec>,
    pub(crate) burst: Burst,
}

impl AddPlan {
    /// Validates every value before the kernel is asked anything, so bad values always give
    /// status 6.
    pub(crate) fn parse(args: AddArgs) -> Result<Self, Failure> {
        let (ip, prefix) = addr::parse_spec(&args.target.address)?;
        let dev = parse_dev(&args.target.dev)?;
        let label = match (args.label, args.iflabel) {
            (Some(label), _) => Some(LabelSpec::Full(label)),
            (None, Some(suffix)) => Some(LabelSpec::Suffix(suffix)),
            (None, None) => None,
        };
        // Before the values: for IPv6 the point is that there must be none.
        let label_text = label
            .as_ref()
            .map(|l| l.for_device(dev.as_deref().unwrap_or("IFACE")));
        addr::check_family_options(ip, label_text.as_deref(), args.broadcast.is_some())?;
        let broadcast = args
            .broadcast
            .as_deref()
            .map(BroadcastSpec::parse)
            .transpose()?;
        let burst = parse_burst(args.arp_count.as_deref(), args.arp_interval_ms.as_deref())?;
        match (&label, &dev) {
            (Some(label), Some(dev)) => label.check(dev).map(drop)?,
            (Some(label), None) => label.check_shape()?,
            (None, _) => {}
        }
        Ok(Self {
            ip,
            prefix,
            dev,
            label,
            broadcast,
            burst,
        })
    }

    /// The interface and the complete request, from the kernel's current view.
    pub(crate) async fn resolve(&self, nl: &Netlink) -> Result<(Interface, AddRequest), AddrError> {
        let (iface, prefix) = resolve(nl, self.ip, self.prefix, self.dev.as_deref()).await?;
        let net = IpNet::new(self.ip, prefix)?;
        let label = self
            .label
            .as_ref()
            .map(|l| l.check(&iface.name))
            .transpose()?;
        let broadcast = match (self.broadcast, net.v4()) {
            (Some(spec), Some(net4)) => spec.resolve(net4),
            _ => None,
        };
        Ok((
            iface,
            AddRequest {
                net,
                label,
                broadcast,
            },
        ))
    }
}

/// The interface to use and the prefix: from `dev` (prefix from its subnets when not given)
/// or, without `dev`, the interface whose subnet contains `ip`.
async fn resolve(
    nl: &Netlink,
    ip: IpAddr,
    prefix: Option<u8>,
    dev: Option<&str>,
) -> Result<(Interface, u8), AddrError> {
    match dev {
        Some(dev) => {
            let iface = nl.interface(dev).await?;
            let prefix = match prefix {
                Some(prefix) => prefix,
                None => addr::select_interface(std::slice::from_ref(&iface), ip)
                    .map(|(_, prefix)| prefix)
                    .map_err(|_| AddrError::NoSubnetOnInterface {
                        ip,
                        iface: dev.to_owned(),
                    })?,
            };
            Ok((iface, prefix))
        }
        None => {
            let (iface, found) = nl.find_interface(ip).await?;
            Ok((iface, prefix.unwrap_or(found)))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, Status};

    fn add_args(args: &[&str]) -> AddArgs {
        let mut argv = vec!["hb-addr", "add"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Add(a) => a,
            other => panic!("not add: {other:?}"),
        }
    }

    #[test]
    fn add_plan_checks_values_before_the_kernel() {
        let plan = AddPlan::parse(add_args(&[
            "2001:db8::10/64",
            "dev",
            "eth0",
            "--arp-count",
            "2",
        ]))
        .unwrap();
        assert_eq!(plan.ip, "2001:db8::10".parse::<IpAddr>().unwrap());
        assert_eq!((plan.prefix, plan.dev.as_deref()), (Some(64), Some("eth0")));
        assert_eq!(plan.burst.count, 2);

        let plan = AddPlan::parse(add_args(&["192.0.2.10", "--iflabel", "vip"])).unwrap();
        assert_eq!(plan.label, Some(LabelSpec::Suffix("vip".into())));
        assert_eq!(plan.label.unwrap().check("eth1").unwrap(), "eth1:vip");

        for (args, message) in [
            (
                &["2001:db8::10/64", "dev", "eth0", "--label", "eth0:0"][..],
                "2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps labels for \
                 IPv4 only); drop label 'eth0:0'",
            ),
            (
                &["2001:db8::10/64", "dev", "eth0", "--iflabel", "0"],
                "2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps labels for \
                 IPv4 only); drop label 'eth0:0'",
            ),
            (
                &["2001:db8::10", "--broadcast", "+"],
                "2001:db8::10: IPv6 has no broadcast addresses; drop the broadcast",
            ),
            (
                &["192.0.2.10/24", "dev", "eth0", "--iflabel", "0123456789a"],
                "invalid label 'eth0:0123456789a': longer than 15 characters",
            ),
            (
                &["192.0.2.10/24", "dev", "eth0", "--iflabel", ""],
                "invalid label '': empty",
            ),
            (
                &["192.0.2.10/24", "--iflabel", "a b"],
                "invalid label 'a b': contains '/', white space or control characters",
            ),
            (
                &["192.0.2.10/24", "--broadcast", "192.0.2"],
                "invalid IPv4 address '192.0.2'",
            ),
            (
                &["2001:db8::10/129"],
                "invalid IPv6 prefix length '129' (expected 0-128)",
            ),
        ] {
            let err = AddPlan::parse(add_args(args)).unwrap_err();
            assert_eq!(
                (err.status, err.message.as_str()),
                (Status::Configured, message),
                "{args:?}"
            );
        }
        // --label and --iflabel exclude each other.
        assert!(
            Cli::try_parse_from([
                "hb-addr",
                "add",
                "192.0.2.1",
                "--label",
                "eth0:0",
                "--iflabel",
                "1"
            ])
            .is_err()
        );
    }

    #[test]
    fn broadcast_symbols_follow_iproute2() {
        let net: Ipv4Net = "192.0.2.100/25".parse().unwrap();
        assert_eq!(BroadcastSpec::parse("+").unwrap().resolve(net), None);
        assert_eq!(
            BroadcastSpec::parse("-").unwrap().resolve(net),
            Some(Ipv4Addr::new(192, 0, 2, 0))
        );
        assert_eq!(
            BroadcastSpec::parse("192.0.2.255").unwrap().resolve(net),
            Some(Ipv4Addr::new(192, 0, 2, 255))
        );
        assert!(BroadcastSpec::parse("++").is_err());
    }
}
