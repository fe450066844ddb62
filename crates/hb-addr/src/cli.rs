//! The command line: clap definitions, the checks of the words clap leaves as text, and
//! the exit statuses (OCF return codes) with the one-line reasons that go with them.

use std::ops::RangeInclusive;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use hb_sys::addr::{self, AddrError};
use hb_sys::garp::Burst;

/// Exit statuses (OCF return codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Success = 0,
    Generic = 1,
    Args = 2,
    Perm = 4,
    NotInstalled = 5,
    Configured = 6,
    NotRunning = 7,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status as u8)
    }
}

/// A failed command: the exit status and the one-line reason.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<AddrError> for Failure {
    fn from(err: AddrError) -> Self {
        let status = match &err {
            AddrError::InvalidAddress(_)
            | AddrError::InvalidIpv6Address(_)
            | AddrError::UnusableAddress(_)
            | AddrError::UnusableIpv6Address(_)
            | AddrError::InvalidPrefix(_)
            | AddrError::InvalidIpv6Prefix(_)
            | AddrError::InvalidInterfaceName(_)
            | AddrError::InvalidLabel { .. }
            | AddrError::LabelOnIpv6 { .. }
            | AddrError::BroadcastOnIpv6(_) => Status::Configured,
            AddrError::InterfaceNotFound(_)
            | AddrError::NoSubnet(_)
            | AddrError::NoSubnetOnInterface { .. }
            | AddrError::AmbiguousSubnet { .. } => Status::Args,
            AddrError::PermissionDenied { .. } => Status::Perm,
            // A kernel without rtnetlink (or a seccomp filter refusing it).
            AddrError::Connect(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
                ) =>
            {
                Status::NotInstalled
            }
            _ => Status::Generic,
        };
        Failure::new(status, err.to_string())
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "hb-addr",
    version,
    about = "Add, remove and report IPv4/IPv6 service addresses; announce them with gratuitous \
             ARP or unsolicited neighbour advertisements",
    disable_help_subcommand = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Add IP to an interface (idempotent) and announce it (ARP for IPv4, neighbour
    /// advertisements for IPv6)
    Add(AddArgs),
    /// Remove IP from an interface (succeeds when it is not there)
    Del(Target),
    /// Print "running" (exit 0) if IP is configured, else "stopped" (exit 7)
    Status(Target),
    /// Check everything `add` would need (values, interface, subnet, label); change nothing
    Validate(AddArgs),
    /// Print "IFACE PREFIX" of the interface whose subnet contains IP
    FindIface {
        /// IPv4 or IPv6 address
        #[arg(value_name = "IP")]
        ip: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Target {
    /// IPv4 address, optionally with /PREFIX (bits or dotted netmask), or IPv6 address,
    /// optionally with /PREFIX (0-128)
    #[arg(value_name = "IP[/PREFIX]")]
    pub(crate) address: String,
    /// `dev IFACE`; without it the interface whose subnet contains IP (add) or every
    /// interface (del, status) is used
    #[arg(value_name = "dev IFACE")]
    pub(crate) dev: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Address label, e.g. eth0:0 (must be IFACE or start with "IFACE:"; IPv4 only)
    #[arg(
        long,
        value_name = "LABEL",
        allow_hyphen_values = true,
        conflicts_with = "iflabel"
    )]
    pub(crate) label: Option<String>,
    /// Label suffix: the label becomes IFACE:SUFFIX for the interface used (IPv4 only)
    #[arg(long, value_name = "SUFFIX", allow_hyphen_values = true)]
    pub(crate) iflabel: Option<String>,
    /// Broadcast address, "+" (all host bits set) or "-" (host bits cleared) [default: "+",
    /// none for /31 and /32; IPv4 only]
    #[arg(long, value_name = "BCAST", allow_hyphen_values = true)]
    pub(crate) broadcast: Option<String>,
    /// Announcement steps (ARP request + reply, or one neighbour advertisement), 0 to 100;
    /// 0 disables [default: 5]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub(crate) arp_count: Option<String>,
    /// Milliseconds between announcement steps, 10 to 10000 [default: 200]
    #[arg(long, value_name = "MS", allow_hyphen_values = true)]
    pub(crate) arp_interval_ms: Option<String>,
}

/// One line from a clap error: its first line without the "error: " prefix.
pub(crate) fn clap_reason(err: &clap::Error) -> String {
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "missing command (add, del, status, validate or find-iface); see --help".into();
    }
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// `[]` or `["dev", IFACE]`.
pub(crate) fn parse_dev(words: &[String]) -> Result<Option<String>, Failure> {
    match words {
        [] => Ok(None),
        [kw, name] if kw == "dev" => {
            addr::check_ifname(name)?;
            Ok(Some(name.clone()))
        }
        _ => Err(Failure::new(
            Status::Args,
            format!(
                "expected 'dev IFACE' after the address, got '{}'",
                words.join(" ")
            ),
        )),
    }
}

fn parse_number(what: &str, text: &str) -> Result<u64, Failure> {
    let invalid = || {
        Failure::new(
            Status::Configured,
            format!("invalid {what} '{text}' (expected a whole number)"),
        )
    };
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// The announcement steps accepted: Heartbeat's `send_arp` and IPaddr2 send 5 by default;
/// far more only floods the segment (and 4294967295 steps would never end).
pub(crate) const ARP_COUNT: RangeInclusive<u64> = 0..=100;
/// Milliseconds between steps accepted: IPaddr2's default is 200; below 10 ms a burst is a
/// flood, above 10 s the announcement is too late to matter.
pub(crate) const ARP_INTERVAL_MS: RangeInclusive<u64> = 10..=10_000;

fn parse_bounded(what: &str, text: &str, range: &RangeInclusive<u64>) -> Result<u64, Failure> {
    let n = parse_number(what, text)?;
    if !range.contains(&n) {
        return Err(Failure::new(
            Status::Configured,
            format!(
                "{what} '{text}' is out of range ({} to {})",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(n)
}

pub(crate) fn parse_burst(
    count: Option<&str>,
    interval_ms: Option<&str>,
) -> Result<Burst, Failure> {
    let mut burst = Burst::default();
    if let Some(text) = count {
        let n = parse_bounded("--arp-count", text, &ARP_COUNT)?;
        burst.count = u32::try_from(n).map_err(|_| {
            Failure::new(
                Status::Configured,
                format!("--arp-count '{text}' is too large"),
            )
        })?;
    }
    if let Some(text) = interval_ms {
        burst.interval =
            Duration::from_millis(parse_bounded("--arp-interval-ms", text, &ARP_INTERVAL_MS)?);
    }
    Ok(burst)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dev_words_are_empty_or_dev_iface() {
        assert_eq!(parse_dev(&[]).unwrap(), None);
        assert_eq!(
            parse_dev(&words(&["dev", "eth0"])).unwrap().as_deref(),
            Some("eth0")
        );
        for bad in [
            &["eth0"][..],
            &["dev"],
            &["dev", "eth0", "x"],
            &["device", "eth0"],
        ] {
            let err = parse_dev(&words(bad)).unwrap_err();
            assert_eq!(err.status, Status::Args, "{bad:?}");
            assert!(
                err.message.starts_with("expected 'dev IFACE'"),
                "{}",
                err.message
            );
        }
        let err = parse_dev(&words(&["dev", "eth0:0"])).unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (Status::Configured, "invalid interface name 'eth0:0'")
        );
    }

    #[test]
    fn burst_defaults_and_overrides() {
        assert_eq!(parse_burst(None, None).unwrap(), Burst::default());
        let b = parse_burst(Some("3"), Some("50")).unwrap();
        assert_eq!((b.count, b.interval), (3, Duration::from_millis(50)));
        assert_eq!(parse_burst(Some("0"), None).unwrap().count, 0);
        let b = parse_burst(Some("100"), Some("10")).unwrap();
        assert_eq!((b.count, b.interval), (100, Duration::from_millis(10)));
        let b = parse_burst(None, Some("10000")).unwrap();
        assert_eq!(b.interval, Duration::from_secs(10));
    }

    #[test]
    fn an_endless_or_instant_burst_is_refused() {
        let err = parse_burst(Some("4294967295"), Some("0")).unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (
                Status::Configured,
                "--arp-count '4294967295' is out of range (0 to 100)"
            )
        );
        let err = parse_burst(Some("5"), Some("0")).unwrap_err();
        assert_eq!(
            err.message,
            "--arp-interval-ms '0' is out of range (10 to 10000)"
        );
    }

    #[test]
    fn bad_burst_values_are_configuration_errors() {
        for (count, interval) in [
            (Some("x"), None),
            (Some("-1"), None),
            (None, Some("1.5")),
            (Some(""), None),
            (Some("99999999999"), None),
            (Some("4294967296"), None),
            (Some("4294967295"), None),
            (Some("101"), None),
            (None, Some("0")),
            (None, Some("9")),
            (None, Some("10001")),
        ] {
            let err = parse_burst(count, interval).unwrap_err();
            assert_eq!(err.status, Status::Configured, "{count:?} {interval:?}");
        }
    }

    #[test]
    fn address_errors_map_to_ocf_codes() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let cases = [
            (
                AddrError::InvalidAddress("300.1.1.1".into()),
                Status::Configured,
            ),
            (AddrError::InvalidPrefix("33".into()), Status::Configured),
            (AddrError::InterfaceNotFound("eth9".into()), Status::Args),
            (AddrError::NoSubnet(ip), Status::Args),
            (
                AddrError::PermissionDenied { op: "address add" },
                Status::Perm,
            ),
            (
                AddrError::PrefixConflict {
                    ip,
                    iface: "eth0".into(),
                    existing: 16,
                    wanted: 24,
                },
                Status::Generic,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(Failure::from(err).status, status);
        }
        assert_eq!(
            Failure::from(AddrError::InterfaceNotFound("eth9".into())).message,
            "interface eth9 not found"
        );
        let v6 = "2001:db8::10".parse().unwrap();
        for err in [
            AddrError::InvalidIpv6Address("2001:db8::g".into()),
            AddrError::InvalidIpv6Prefix("129".into()),
            AddrError::UnusableIpv6Address("ff02::1".parse().unwrap()),
            AddrError::LabelOnIpv6 {
                ip: v6,
                label: "eth0:0".into(),
            },
            AddrError::BroadcastOnIpv6(v6),
        ] {
            assert_eq!(Failure::from(err).status, Status::Configured);
        }
    }

    #[test]
    fn clap_errors_become_one_line() {
        let err = Cli::try_parse_from(["hb-addr", "frobnicate"]).unwrap_err();
        let reason = clap_reason(&err);
        assert!(
            !reason.contains('\n') && reason.contains("frobnicate"),
            "{reason}"
        );
        let err = Cli::try_parse_from(["hb-addr"]).unwrap_err();
        assert!(!clap_reason(&err).contains('\n'));
    }

    #[test]
    fn cli_accepts_the_documented_forms() {
        let cli = Cli::try_parse_from([
            "hb-addr",
            "add",
            "192.0.2.100/24",
            "dev",
            "eth0",
            "--label",
            "eth0:0",
            "--broadcast",
            "192.0.2.255",
            "--arp-count",
            "3",
            "--arp-interval-ms",
            "50",
        ])
        .unwrap();
        let Command::Add(a) = cli.command else {
            panic!("not add")
        };
        assert_eq!(a.target.address, "192.0.2.100/24");
        assert_eq!(a.target.dev, words(&["dev", "eth0"]));
        assert_eq!(a.label.as_deref(), Some("eth0:0"));
        assert_eq!(a.broadcast.as_deref(), Some("192.0.2.255"));
        let cli = Cli::try_parse_from(["hb-addr", "status", "192.0.2.100"]).unwrap();
        assert!(matches!(cli.command, Command::Status(t) if t.dev.is_empty()));
        let cli = Cli::try_parse_from(["hb-addr", "find-iface", "192.0.2.100"]).unwrap();
        assert!(matches!(cli.command, Command::FindIface { ip } if ip == "192.0.2.100"));
        let cli = Cli::try_parse_from([
            "hb-addr",
            "validate",
            "2001:db8::10/64",
            "dev",
            "eth0",
            "--arp-count",
            "1",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Command::Validate(a) if a.target.address == "2001:db8::10/64")
        );
    }
}
