//! Where log lines go: `logfile` (info and above) and `debugfile` (debug and above) from
//! ha.cf; otherwise stderr in the foreground, or syslog (`logfacility`, default `daemon`)
//! when detached. `HB_LOG` (tracing's filter syntax, e.g. `debug` or `hb_core=trace`)
//! overrides the level.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hb_config::HaCf;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
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

/// Installs the subscriber.
pub(crate) fn init(hacf: &HaCf, foreground: bool) -> Result<(), String> {
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if let Some(p) = &hacf.debugfile {
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(false)
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
                .with_target(false)
                .with_ansi(false)
                .with_writer(FileWriter(open_append(p)?))
                .with_filter(filter(default))
                .boxed(),
        );
    } else if foreground || syslog_facility.is_none() && !Path::new("/dev/log").exists() {
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(io::stderr)
                .with_ansi(false)
                .with_filter(filter(default))
                .boxed(),
        );
    } else {
        let facility = facility_code(syslog_facility.unwrap_or("daemon"));
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(false)
                .without_time()
                .with_level(false)
                .with_writer(Syslog::connect(facility))
                .with_filter(filter(default))
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| e.to_string())
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
    fn connect(facility: u8) -> Syslog {
        let sock = UnixDatagram::unbound()
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
                "<{pri}>heartbeat[{}]: {}",
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
        let severity = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        SyslogLine {
            sink: self.clone(),
            severity,
            buf: Vec::new(),
        }
    }
}
