//! Test support shared by the crates' tests (never a runtime dependency): locating the
//! Heartbeat 3.0.6 captures in the shared directory, extracting their UDP payloads, each
//! scenario's keys and msgfmt, and writing our own datagrams as a pcap for the independent
//! decoder (`hbdecode.py`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod junk;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use hb_proto::{AuthMethod, KeyRing, MsgFmt};
use pcap_file::pcap::PcapReader;

/// Address of the lab's injector namespace: every datagram from it was built by a script.
pub const INJECTOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);

/// The shared directory (`HB_SHARED_DIR`, else `<repo>/../shared`), if its captures exist.
///
/// When they are missing this fails under `CI=true` and otherwise prints a loud notice and
/// returns `None` so the caller can return early.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HB_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("interop/captures").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "capture directory {} not found; set HB_SHARED_DIR to the shared/ directory",
        dir.join("interop/captures").display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: missing known-answer vectors are a failure)");
    }
    // Written to the real stderr (not eprintln!, which the test harness captures) so the
    // skip is visible in a normal `cargo test` run.
    let bar = "!".repeat(78);
    let notice = format!("\n{bar}\n!!! SKIPPED: {msg}\n{bar}\n");
    let _ = std::io::stderr().write_all(notice.as_bytes());
    None
}

/// One Heartbeat datagram from a capture.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// File name of the pcap.
    pub file: String,
    /// Scenario code (`A1`, `C6`, …): the file name up to the first `-`.
    pub scenario: String,
    /// 1-based number among the file's Heartbeat datagrams (the `#N` of the decoded .txt).
    pub number: usize,
    /// IPv4 source address.
    pub src: Ipv4Addr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

impl Datagram {
    /// Whether a real heartbeat daemon sent it (as opposed to the lab's injector).
    pub fn sent_by_real_daemon(&self) -> bool {
        self.src != INJECTOR
    }
}

/// The Heartbeat UDP port of a scenario.
pub fn port(scenario: &str) -> u16 {
    if scenario == "C2" { 7694 } else { 694 }
}

/// The `msgfmt` of a scenario.
pub fn msgfmt(scenario: &str) -> MsgFmt {
    if scenario == "C1" {
        MsgFmt::Netstring
    } else {
        MsgFmt::Classic
    }
}

/// Every key configured in a scenario's authkeys.
pub fn keys(scenario: &str) -> BTreeMap<u8, (AuthMethod, Vec<u8>)> {
    let mut k = BTreeMap::new();
    match scenario {
        "C2" => {
            k.insert(2, (AuthMethod::Md5, b"md5secret".to_vec()));
        }
        "C3" => {
            k.insert(3, (AuthMethod::Crc, Vec::new()));
        }
        "C6" => {
            k.insert(1, (AuthMethod::Sha1, b"labsecret".to_vec()));
            k.insert(2, (AuthMethod::Md5, b"othersecret".to_vec()));
        }
        _ => {
            k.insert(1, (AuthMethod::Sha1, b"labsecret".to_vec()));
        }
    }
    k
}

/// A scenario's key ring signing with `sign_index`.
pub fn ring(scenario: &str, sign_index: u8) -> KeyRing {
    KeyRing::new(sign_index, keys(scenario)).expect("valid scenario keys")
}

/// A scenario's key ring with its usual signing index (the lowest configured).
pub fn default_ring(scenario: &str) -> KeyRing {
    let first = *keys(scenario).keys().next().expect("scenario has a key");
    ring(scenario, first)
}

/// Reads the Heartbeat datagrams (UDP to or from the scenario's port) of one pcap.
pub fn read_pcap(path: &Path) -> Vec<Datagram> {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 file name")
        .to_owned();
    let scenario = file.split('-').next().unwrap_or_default().to_owned();
    let port = port(&scenario);
    let mut reader = PcapReader::new(File::open(path).expect("open pcap")).expect("pcap header");
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("pcap record");
        let Ok(sliced) = SlicedPacket::from_ethernet(&pkt.data) else {
            continue;
        };
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) =
            (&sliced.net, &sliced.transport)
        else {
            continue;
        };
        if udp.source_port() != port && udp.destination_port() != port {
            continue;
        }
        out.push(Datagram {
            file: file.clone(),
            scenario: scenario.clone(),
            number: out.len() + 1,
            src: ip.header().source_addr(),
            payload: udp.payload().to_vec(),
        });
    }
    out
}

/// The pcap files of the capture directory, sorted by name.
pub fn pcap_files(shared: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("interop/captures"))
        .expect("read captures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the 30+ capture files, found {}",
        files.len()
    );
    files
}

/// All Heartbeat datagrams of all captures.
pub fn all_datagrams(shared: &Path) -> Vec<Datagram> {
    pcap_files(shared)
        .iter()
        .flat_map(|p| read_pcap(p))
        .collect()
}

/// Writes datagrams as a pcap of Ethernet/IPv4/UDP broadcast frames (source `src`, to
/// 192.0.2.255:694), readable by the shared `hbdecode.py`.
pub fn write_pcap(path: &Path, datagrams: &[(Ipv4Addr, Vec<u8>)]) -> std::io::Result<()> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let file = File::create(path)?;
    let header = PcapHeader {
        datalink: pcap_file::DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(file, header).map_err(std::io::Error::other)?;
    for (i, (src, payload)) in datagrams.iter().enumerate() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0xff; 6])
            .ipv4(src.octets(), [192, 0, 2, 255], 64)
            .udp(694, 694);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, payload)
            .map_err(std::io::Error::other)?;
        let ts = std::time::Duration::from_millis(i as u64);
        let packet = PcapPacket::new(ts, frame.len() as u32, &frame);
        writer
            .write_packet(&packet)
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// Runs the shared independent decoder over a pcap with the given `--auth` arguments
/// (e.g. `"1 sha1 secret"`) in `--brief` mode and returns its output lines.
pub fn hbdecode_brief(shared: &Path, pcap: &Path, auth: &str) -> std::io::Result<Vec<String>> {
    let out = std::process::Command::new("python3")
        .arg(shared.join("interop/captures/tools/hbdecode.py"))
        .arg(pcap)
        .arg("--auth")
        .arg(auth)
        .arg("--brief")
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "hbdecode.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}
