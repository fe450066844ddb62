//! The subcommands: each checks its arguments, talks to the kernel over rtnetlink on a
//! single-threaded runtime, and reports on stdout (`status`, `find-iface`) or stderr
//! (warnings).

use hb_sys::addr::{self, AddOutcome, AddrError, DelOutcome, Netlink};

use crate::announce::announce;
use crate::cli::{AddArgs, Failure, Status, Target, parse_dev};
use crate::plan::AddPlan;
use crate::runtime;

/// `add`: configures the address (idempotent), sets the link up, then announces it.
pub(crate) fn cmd_add(args: AddArgs) -> Result<(), Failure> {
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

/// `validate`: everything `add` checks, against the kernel's current view; changes nothing.
pub(crate) fn cmd_validate(args: AddArgs) -> Result<(), Failure> {
    let plan = AddPlan::parse(args)?;
    let rt = runtime()?;
    rt.block_on(async {
        let nl = Netlink::connect()?;
        plan.resolve(&nl).await.map(drop)
    })?;
    Ok(())
}

/// `del`: removes the address wherever it is configured with the prefix asked for.
pub(crate) fn cmd_del(target: Target) -> Result<(), Failure> {
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

/// `status`: prints "running" (status 0) or "stopped" (status 7).
pub(crate) fn cmd_status(target: Target) -> Result<Status, Failure> {
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

/// `find-iface`: prints the interface whose subnet contains the address, and the prefix.
pub(crate) fn cmd_find_iface(ip: &str) -> Result<(), Failure> {
    let ip = addr::parse_ip(ip)?;
    addr::check_assignable_ip(ip)?;
    let rt = runtime()?;
    let (iface, prefix) = rt.block_on(async { Netlink::connect()?.find_interface(ip).await })?;
    println!("{} {prefix}", iface.name);
    Ok(())
}
