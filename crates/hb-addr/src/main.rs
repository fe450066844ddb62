//! `hb-addr`: the fast helper the IPaddr resource agent execs.
//!
//! It adds, removes and reports IPv4 and IPv6 service addresses over rtnetlink and announces
//! them from a packet socket — gratuitous ARP for IPv4, unsolicited neighbour advertisements
//! for IPv6 — so that a takeover costs a few milliseconds and no `ip`/`arping`/`send_arp`
//! processes. `add` returns as soon as the address is configured and the first announcement
//! step is out; the rest of the burst runs in a detached process that stops early when the
//! address disappears. `validate` checks everything `add` would need and changes nothing.
//!
//! Exit statuses follow the OCF codes the agent passes on unchanged: 0 success, 1 generic
//! error, 2 bad arguments or invalid on this host (unknown interface, no matching subnet),
//! 4 insufficient privilege, 5 not installed, 6 inherently invalid value (e.g. `300.1.1.1`,
//! a label on an IPv6 address), 7 not running (`status` only). Errors are one line on stderr.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use hb_sys::addr::{
    self, AddOutcome, AddRequest, AddrError, DelOutcome, Interface, IpNet, Ipv4Net, Netlink,
};
use hb_sys::garp::{self, Burst, GarpError, GarpSender};
use hb_sys::ndisc::{NaSender, NdiscError};

/// Exit statuses (OCF return codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
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
struct Failure {
    status: Status,
    message: String,
}

impl Failure {
    fn new(status: Status, message: impl Into<String>) -> Self {
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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
struct Target {
    /// IPv4 address, optionally with /PREFIX (bits or dotted netmask), or IPv6 address,
    /// optionally with /PREFIX (0-128)
    #[arg(value_name = "IP[/PREFIX]")]
    address: String,
    /// `dev IFACE`; without it the interface whose subnet contains IP (add) or every
    /// interface (del, status) is used
    #[arg(value_name = "dev IFACE")]
    dev: Vec<String>,
}

#[derive(Debug, Args)]
struct AddArgs {
    #[command(flatten)]
    target: Target,
    /// Address label, e.g. eth0:0 (must be IFACE or start with "IFACE:"; IPv4 only)
    #[arg(
        long,
        value_name = "LABEL",
        allow_hyphen_values = true,
        conflicts_with = "iflabel"
    )]
    label: Option<String>,
    /// Label suffix: the label becomes IFACE:SUFFIX for the interface used (IPv4 only)
    #[arg(long, value_name = "SUFFIX", allow_hyphen_values = true)]
    iflabel: Option<String>,
    /// Broadcast address, "+" (all host bits set) or "-" (host bits cleared) [default: "+",
    /// none for /31 and /32; IPv4 only]
    #[arg(long, value_name = "BCAST", allow_hyphen_values = true)]
    broadcast: Option<String>,
    /// Announcement steps (ARP request + reply, or one neighbour advertisement); 0 disables
    /// [default: 5]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    arp_count: Option<String>,
    /// Milliseconds between announcement steps [default: 200]
    #[arg(long, value_name = "MS", allow_hyphen_values = true)]
    arp_interval_ms: Option<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            // Printing help can only fail on a closed stdout; nothing useful to do then.
            let _ = err.print();
            return Status::Success.into();
        }
        Err(err) => {
            eprintln!("hb-addr: {}", clap_reason(&err));
            return Status::Args.into();
        }
    };
    let result = match cli.command {
        Command::Add(args) => cmd_add(args).map(|()| Status::Success),
        Command::Del(target) => cmd_del(target).map(|()| Status::Success),
        Command::Status(target) => cmd_status(target),
        Command::Validate(args) => cmd_validate(args).map(|()| Status::Success),
        Command::FindIface { ip } => cmd_find_iface(&ip).map(|()| Status::Success),
    };
    match result {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("hb-addr: {}", failure.message);
            failure.status.into()
        }
    }
}

/// One line from a clap error: its first line without the "error: " prefix.
fn clap_reason(err: &clap::Error) -> String {
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "missing command (add, del, status, validate or find-iface); see --help".into();
    }
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// `[]` or `["dev", IFACE]`.
fn parse_dev(words: &[String]) -> Result<Option<String>, Failure> {
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

fn parse_burst(count: Option<&str>, interval_ms: Option<&str>) -> Result<Burst, Failure> {
    let mut burst = Burst::default();
    if let Some(text) = count {
        burst.count = u32::try_from(parse_number("--arp-count", text)?).map_err(|_| {
            Failure::new(
                Status::Configured,
                format!("--arp-count '{text}' is too large"),
            )
        })?;
    }
    if let Some(text) = interval_ms {
        burst.interval = Duration::from_millis(parse_number("--arp-interval-ms", text)?);
    }
    Ok(burst)
}

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
struct AddPlan {
    ip: IpAddr,
    prefix: Option<u8>,
    dev: Option<String>,
    label: Option<LabelSpec>,
    broadcast: Option<BroadcastSpec>,
    burst: Burst,
}

impl AddPlan {
    /// Validates every value before the kernel is asked anything, so bad values always give
    /// status 6.
    fn parse(args: AddArgs) -> Result<Self, Failure> {
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
    async fn resolve(&self, nl: &Netlink) -> Result<(Interface, AddRequest), AddrError> {
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

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Status::Generic,
                format!("cannot start the I/O runtime: {e}"),
            )
        })
}

fn cmd_add(args: AddArgs) -> Result<(), Failure> {
    let plan = AddPlan::parse(args)?;
    let rt = runtime()?;
    let iface = rt.block_on(async {
        let nl = Netlink::connect()?;
        let (iface, request) = plan.resolve(&nl).await?;
        match nl.add(&iface, &request).await? {
            // Both are success, and both (re-)send the burst: operators re-announce an
            // address by starting it again.
            AddOutcome::Added | AddOutcome::AlreadyPresent => {}
        }
        // Like IPaddr2: an address on a down device serves nobody. Done after the add so a
        // refused add leaves the link as it was.
        if !iface.up {
            nl.set_up(&iface).await?;
        }
        Ok::<_, AddrError>(iface)
    })?;
    // The detached burst forks: the runtime (and its netlink socket) must be gone by then.
    drop(rt);
    announce(&iface, plan.ip, plan.burst);
    Ok(())
}

fn cmd_validate(args: AddArgs) -> Result<(), Failure> {
    let plan = AddPlan::parse(args)?;
    let rt = runtime()?;
    rt.block_on(async {
        let nl = Netlink::connect()?;
        plan.resolve(&nl).await.map(drop)
    })?;
    Ok(())
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
fn announce(iface: &Interface, ip: IpAddr, burst: Burst) {
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
    let Ok(rt) = runtime() else { return 1 };
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

fn cmd_del(target: Target) -> Result<(), Failure> {
    let (ip, prefix) = addr::parse_spec(&target.address)?;
    let dev = parse_dev(&target.dev)?;
    let rt = runtime()?;
    let kept = rt.block_on(async {
        let nl = Netlink::connect()?;
        let ifaces = match dev.as_deref() {
            Some(dev) => match nl.interface(dev).await {
                Ok(iface) => vec![iface],
                // No such interface: the address is certainly not on it. Stop must succeed.
                Err(AddrError::InterfaceNotFound(_)) => Vec::new(),
                Err(err) => return Err(err),
            },
            None => nl.interfaces().await?,
        };
        let mut kept = Vec::new();
        for iface in ifaces.iter().filter(|i| i.has(ip, None)) {
            if let DelOutcome::OtherPrefix(other) = nl.delete(iface, ip, prefix).await? {
                kept.push((iface.name.clone(), other));
            }
        }
        Ok::<_, AddrError>(kept)
    })?;
    for (iface, other) in kept {
        let wanted = prefix.map_or(String::new(), |p| format!(", not /{p}"));
        eprintln!(
            "hb-addr: warning: {ip} is configured on {iface} as /{other}{wanted}; left alone"
        );
    }
    Ok(())
}

fn cmd_status(target: Target) -> Result<Status, Failure> {
    let (ip, prefix) = addr::parse_spec(&target.address)?;
    let dev = parse_dev(&target.dev)?;
    let rt = runtime()?;
    let running = rt.block_on(async {
        let nl = Netlink::connect()?;
        match dev.as_deref() {
            Some(dev) => match nl.interface(dev).await {
                Ok(iface) => Ok(iface.has(ip, prefix)),
                Err(AddrError::InterfaceNotFound(_)) => Ok(false),
                Err(err) => Err(err),
            },
            None => nl.is_present(ip, prefix, None).await,
        }
    })?;
    if running {
        println!("running");
        Ok(Status::Success)
    } else {
        println!("stopped");
        Ok(Status::NotRunning)
    }
}

fn cmd_find_iface(ip: &str) -> Result<(), Failure> {
    let ip = addr::parse_ip(ip)?;
    addr::check_assignable_ip(ip)?;
    let rt = runtime()?;
    let (iface, prefix) = rt.block_on(async { Netlink::connect()?.find_interface(ip).await })?;
    println!("{} {prefix}", iface.name);
    Ok(())
}

#[cfg(test)]
mod tests {
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
