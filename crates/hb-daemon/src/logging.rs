//! Where log lines go and how they look: Heartbeat's sinks (`logfile`, info and above;
//! `debugfile`, everything; syslog with `logfacility`) and Heartbeat's line format (cl_log's),
//! so that what operators and Heartbeat's CTS grep for matches; stderr in the foreground
//! without a `logfile`, syslog's `daemon` facility when detached with no sink configured.
//! Under systemd, when stderr is the journal (`JOURNAL_STREAM` names it), stderr lines carry
//! the journal's `<N>` priority prefix instead of a time stamp and host (the journal adds
//! its own), and with a `logfacility` the syslog lines alone reach the journal (no line
//! twice). `HB_LOG` (tracing's filter syntax, e.g. `debug` or `hb_core=trace`) overrides the
//! level.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};

use std::time::SystemTime;

use hb_config::HaCf;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, filter::LevelFilter};

fn filter(default: LevelFilter) -> EnvFilter {
    EnvFilter::builder()
        .with_default_directive(default.into())
        .with_env_var("HB_LOG")
        .from_env_lossy()
}

fn open_append(path: &Path) -> Result<Arc<Mutex<std::fs::File>>, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| Arc::new(Mutex::new(f)))
        .map_err(|e| format!("{}: cannot open the log file: {e}", path.display()))
}

/// A file shared between writers, each line appended whole.
#[derive(Clone, Debug)]
struct FileWriter(Arc<Mutex<std::fs::File>>);

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut f = self
            .0
            .lock()
            .map_err(|_| io::Error::other("log file lock poisoned"))?;
        f.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = FileWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// cl_log's word for a level (`prio2str`).
fn priority(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// syslog's severity for a level (also the journal's priority).
fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Heartbeat's line format, in three shapes.
enum HeartbeatFormat {
    /// Files and a terminal: cl_log's whole line,
    /// `Nov 24 13:42:22 node1 heartbeat: [1066]: info: TEXT`.
    Full { host: String },
    /// syslog: `info: TEXT`, which [`SyslogLine`] sends as `heartbeat: [1066]: info: TEXT`
    /// like Heartbeat.
    Syslog,
    /// The journal through stderr: `<6>info: TEXT` (the journal stamps time, host,
    /// identifier and pid itself, and reads the priority from the prefix).
    Journal,
}

impl<S, N> FormatEvent<S, N> for HeartbeatFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut text = String::new();
        ctx.field_format()
            .format_fields(format::Writer::new(&mut text), event)?;
        let level = event.metadata().level();
        let prio = priority(level);
        match self {
            HeartbeatFormat::Full { host } => writer.write_str(&hb_time::cl_log_line(
                SystemTime::now(),
                host,
                ENTITY,
                std::process::id(),
                prio,
                &text,
            )),
            HeartbeatFormat::Syslog => writeln!(writer, "{prio}: {text}"),
            // One journal entry per line: a line break inside the text would split it.
            HeartbeatFormat::Journal => writeln!(
                writer,
                "<{}>{prio}: {}",
                severity(level),
                text.replace('\n', " ")
            ),
        }
    }
}

/// The log entity, as Heartbeat's.
const ENTITY: &str = "heartbeat";

/// Installs the subscriber, with Heartbeat's sinks: `debugfile` gets every level, `logfile`
/// info and above, syslog (`logfacility`, unless `none`) info and above; both files and
/// syslog at once when configured. In the foreground without a `logfile`, stderr too; when
/// detached with neither a `logfile` nor a `logfacility`, syslog's `daemon` facility (where
/// Heartbeat's logging daemon would put them). `node` stands where cl_log writes the host
/// name (Heartbeat requires the two to be equal).
pub(crate) fn init(hacf: &HaCf, foreground: bool, node: &str) -> Result<(), String> {
    let format = || HeartbeatFormat::Full {
        host: node.to_owned(),
    };
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if let Some(p) = &hacf.debugfile {
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(FileWriter(open_append(p)?))
                .with_filter(filter(LevelFilter::DEBUG))
                .boxed(),
        );
    }
    let default = if hacf.debug > 0 {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let syslog_facility = hacf.logfacility.as_deref().filter(|f| *f != "none");
    if let Some(p) = &hacf.logfile {
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(format())
                .with_writer(FileWriter(open_append(p)?))
                .with_filter(filter(default))
                .boxed(),
        );
    }
    let journal = stderr_is_journal();
    let stderr = hacf.logfile.is_none()
        && (foreground || syslog_facility.is_none() && !Path::new("/dev/log").exists())
        && !(journal && syslog_facility.is_some());
    if stderr {
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(if journal {
                    HeartbeatFormat::Journal
                } else {
                    format()
                })
                .with_writer(io::stderr)
                .with_filter(filter(default))
                .boxed(),
        );
    }
    let syslog = match syslog_facility {
        Some(f) => Some(f),
        None if hacf.logfile.is_none() && !stderr => Some("daemon"),
        None => None,
    };
    if let Some(facility) = syslog {
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(HeartbeatFormat::Syslog)
                .with_writer(Syslog::connect(facility_code(facility)))
                .with_filter(filter(default))
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| e.to_string())
}

/// Whether stderr is the journal: systemd sets `JOURNAL_STREAM` to the `DEV:INODE` of the
/// stream it connected (a redirected stderr no longer matches).
fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    nix::sys::stat::fstat(io::stderr()).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino)
}

fn facility_code(name: &str) -> u8 {
    match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => 3, // daemon
    }
}

/// Lines to the local syslog socket (`/dev/log`), RFC 3164 style.
#[derive(Clone, Debug)]
struct Syslog {
    sock: Option<Arc<UnixDatagram>>,
    facility: u8,
}

impl Syslog {
    /// Non-blocking: when the syslog daemon is stuck and its queue full, lines are dropped
    /// rather than stalling the event loop (and with it heartbeats and failover).
    fn connect(facility: u8) -> Syslog {
        let sock = UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .ok()
            .map(Arc::new);
        Syslog { sock, facility }
    }
}

/// One line on its way to syslog, sent when dropped.
#[derive(Debug)]
struct SyslogLine {
    sink: Syslog,
    severity: u8,
    buf: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        if let Some(sock) = &self.sink.sock {
            let pri = u16::from(self.sink.facility) * 8 + u16::from(self.severity);
            let text = String::from_utf8_lossy(&self.buf);
            let msg = format!(
                "<{pri}>{} {ENTITY}: [{}]: {}",
                hb_time::cl_log_stamp(SystemTime::now()),
                std::process::id(),
                text.trim_end()
            );
            let _ = sock.send(msg.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            sink: self.clone(),
            severity: 6,
            buf: Vec::new(),
        }
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        SyslogLine {
            sink: self.clone(),
            severity: severity(meta.level()),
            buf: Vec::new(),
        }
    }
}
