//! The checks themselves: a TCP connect with a timeout, and an HTTP/1.0 GET whose status code
//! (and optionally body) must match. Each check is bounded by one deadline: connecting,
//! sending and reading all count against the same timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use hb_time::{MillisStyle, format_millis};

use crate::url::HttpUrl;

/// At most this much of a response head (status line and headers) is read.
pub const MAX_HEAD: usize = 16 * 1024;
/// At most this much of a body is searched for `--contains` text.
pub const MAX_BODY: usize = 64 * 1024;

/// Why a check failed. The `Display` text is what the logs show after "gone (".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    /// The server answered the SYN with a reset.
    #[error("connect refused")]
    Refused,
    /// No answer to the SYN within the timeout.
    #[error("connect timed out after {}", format_millis(*.0, MillisStyle::Prose))]
    ConnectTimeout(Duration),
    /// Any other connect error (unreachable, ...).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// Connected, but the whole exchange did not finish within the timeout.
    #[error("no complete response within {}", format_millis(*.0, MillisStyle::Prose))]
    ResponseTimeout(Duration),
    /// Connected, then the exchange failed.
    #[error("{0}")]
    Io(String),
    /// The peer did not speak HTTP.
    #[error("not an HTTP response: {0}")]
    NotHttp(String),
    /// The status code differs from the expected one.
    #[error("HTTP status {got}, expected {expected}")]
    Status {
        /// What the server sent.
        got: u16,
        /// What was expected.
        expected: u16,
    },
    /// The body does not contain the expected text.
    #[error("HTTP status {status} but the body does not contain '{text}'")]
    Body {
        /// The (matching) status code.
        status: u16,
        /// The text looked for.
        text: String,
    },
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

fn connect_error(e: &std::io::Error, timeout: Duration) -> CheckFailure {
    match e.kind() {
        ErrorKind::ConnectionRefused => CheckFailure::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => CheckFailure::ConnectTimeout(timeout),
        ErrorKind::HostUnreachable => CheckFailure::Connect("host unreachable".into()),
        ErrorKind::NetworkUnreachable => CheckFailure::Connect("network unreachable".into()),
        _ => CheckFailure::Connect(e.to_string()),
    }
}

/// Connects to the first of `addrs` that accepts, within `timeout` overall.
///
/// # Errors
/// The failure of the last address tried ([`CheckFailure::Refused`],
/// [`CheckFailure::ConnectTimeout`], ...).
pub fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, CheckFailure> {
    let deadline = Instant::now() + timeout;
    let mut last = CheckFailure::Connect("no address to connect to".into());
    for addr in addrs {
        let Some(left) = remaining(deadline) else {
            return Err(CheckFailure::ConnectTimeout(timeout));
        };
        match TcpStream::connect_timeout(addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = connect_error(&e, timeout),
        }
    }
    Err(last)
}

/// Resolves `host:port` (an IP literal or a name) to socket addresses.
///
/// # Errors
/// [`CheckFailure::Resolve`].
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, CheckFailure> {
    let failure = |reason: String| CheckFailure::Resolve {
        host: host.to_owned(),
        reason,
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| failure(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(failure("no addresses".into()));
    }
    Ok(addrs)
}

/// Splits `HOST:PORT` / `[V6]:PORT` (host may be a name) for `hb-check tcp`.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (h, rest) = inner.split_once(']')?;
        (h, rest.strip_prefix(':')?)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h, p)
    };
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(p) => Some((host.to_owned(), p)),
    }
}

/// The HTTP/1.0 request `hb-check` sends.
pub fn build_request(path: &str, host_header: &str) -> String {
    format!(
        "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: hb-check/{}\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Parses a status line, `HTTP/1.1 200 OK` (the reason phrase may be absent), into the code.
///
/// # Errors
/// [`CheckFailure::NotHttp`] quoting the start of the line.
pub fn parse_status_line(line: &str) -> Result<u16, CheckFailure> {
    let line = line.trim_end_matches(['\r', '\n']);
    let not_http = || {
        let shown: String = line.chars().take(40).collect();
        CheckFailure::NotHttp(format!("'{}'", shown.escape_default()))
    };
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().ok_or_else(not_http)?;
    let code = parts.next().ok_or_else(not_http)?;
    let digits = version.strip_prefix("HTTP/").ok_or_else(not_http)?;
    let version_ok = match digits.split_once('.') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()),
    };
    if !version_ok || code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(not_http());
    }
    let n: u16 = code.parse().map_err(|_| not_http())?;
    if !(100..=999).contains(&n) {
        return Err(not_http());
    }
    Ok(n)
}

/// End of the response head (`\r\n\r\n` or a bare `\n\n`): the index where the body starts.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What an HTTP GET returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The start of the body (at most [`MAX_BODY`] bytes; empty unless the body was wanted).
    pub body: Vec<u8>,
}

/// One HTTP/1.0 GET of `path` from the first of `addrs` that accepts, with `Host:
/// host_header`, all within `timeout`. Reads the body (up to [`MAX_BODY`]) only when
/// `want_body`.
///
/// # Errors
/// [`CheckFailure`] for connection failures, timeouts and non-HTTP answers.
pub fn http_get(
    addrs: &[SocketAddr],
    host_header: &str,
    path: &str,
    timeout: Duration,
    want_body: bool,
) -> Result<HttpResponse, CheckFailure> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(addrs, timeout)?;
    let timed_out = || CheckFailure::ResponseTimeout(timeout);
    let io = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => timed_out(),
        ErrorKind::ConnectionReset => CheckFailure::Io("connection reset by the server".into()),
        _ => CheckFailure::Io(e.to_string()),
    };
    let request = build_request(path, host_header);
    stream
        .set_write_timeout(Some(remaining(deadline).ok_or_else(timed_out)?))
        .map_err(io)?;
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut status = None;
    let mut body_start = 0;
    loop {
        if let Some(start) = head_end(&buf).filter(|_| status.is_none()) {
            let head = String::from_utf8_lossy(&buf[..start]);
            let first = head.lines().next().unwrap_or("");
            status = Some(parse_status_line(first)?);
            body_start = start;
        }
        if let Some(code) = status
            && (!want_body || buf.len() - body_start >= MAX_BODY)
        {
            return Ok(HttpResponse {
                status: code,
                body: buf[body_start..].iter().take(MAX_BODY).copied().collect(),
            });
        }
        if status.is_none() && buf.len() > MAX_HEAD {
            return Err(CheckFailure::NotHttp(format!(
                "no end of the response head in the first {MAX_HEAD} bytes"
            )));
        }
        let left = match remaining(deadline) {
            Some(d) => d,
            // Out of time with a status but part of the body: judge what we have.
            None if status.is_some() => break,
            None => return Err(timed_out()),
        };
        stream.set_read_timeout(Some(left)).map_err(io)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e)
                if status.is_some()
                    && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                break;
            }
            Err(e) => return Err(io(e)),
        }
    }
    // End of stream (HTTP/1.0 style) or out of time while reading the body.
    let code = match status {
        Some(c) => c,
        None if buf.is_empty() => {
            return Err(CheckFailure::NotHttp(
                "the server closed the connection without answering".into(),
            ));
        }
        None => {
            // A head without the blank line: judge the status line alone.
            let text = String::from_utf8_lossy(&buf);
            let first = text.lines().next().unwrap_or("");
            body_start = buf.len();
            parse_status_line(first)?
        }
    };
    Ok(HttpResponse {
        status: code,
        body: buf[body_start..].iter().take(MAX_BODY).copied().collect(),
    })
}

/// Judges a response: the status must be `expect` and, when `contains` is given, the body
/// must contain it.
///
/// # Errors
/// [`CheckFailure::Status`] or [`CheckFailure::Body`].
pub fn judge(resp: &HttpResponse, expect: u16, contains: Option<&str>) -> Result<(), CheckFailure> {
    if resp.status != expect {
        return Err(CheckFailure::Status {
            got: resp.status,
            expected: expect,
        });
    }
    if let Some(text) = contains {
        let needle = text.as_bytes();
        let found = needle.is_empty() || resp.body.windows(needle.len()).any(|w| w == needle);
        if !found {
            return Err(CheckFailure::Body {
                status: resp.status,
                text: text.to_owned(),
            });
        }
    }
    Ok(())
}

/// `hb-check http`: GET `url`, resolve its host, judge the answer.
///
/// # Errors
/// Any [`CheckFailure`].
pub fn check_url(
    url: &HttpUrl,
    expect: u16,
    contains: Option<&str>,
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let addrs = resolve(&url.host, url.port)?;
    let resp = http_get(
        &addrs,
        &url.host_header,
        &url.path,
        timeout,
        contains.is_some(),
    )?;
    judge(&resp, expect, contains)
}

/// The HTTP part of a real-server check (keepalived's `HTTP_GET` with one `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// Request target, e.g. `/` or `/health`.
    pub path: String,
    /// Expected status code.
    pub expect: u16,
    /// `Host:` header; `None` means the server's `IP:PORT`.
    pub host: Option<String>,
    /// Text the body must contain.
    pub contains: Option<String>,
}

/// The check run against each real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A TCP connect (keepalived's `TCP_CHECK`).
    Tcp,
    /// An HTTP GET (keepalived's `HTTP_GET`).
    Http(HttpCheck),
}

impl Check {
    /// Runs the check against `target` within `timeout`.
    ///
    /// # Errors
    /// Why the check failed.
    pub fn run(&self, target: SocketAddr, timeout: Duration) -> Result<(), CheckFailure> {
        match self {
            Check::Tcp => connect(&[target], timeout).map(drop),
            Check::Http(h) => {
                let host = match &h.host {
                    Some(name) => name.clone(),
                    None => match target.port() {
                        80 => match target {
                            SocketAddr::V4(a) => a.ip().to_string(),
                            SocketAddr::V6(a) => format!("[{}]", a.ip()),
                        },
                        _ => target.to_string(),
                    },
                };
                let resp = http_get(&[target], &host, &h.path, timeout, h.contains.is_some())?;
                judge(&resp, h.expect, h.contains.as_deref())
            }
        }
    }

    /// A short description for logs, e.g. `tcp connect` or `HTTP GET /health expecting 200`.
    pub fn describe(&self) -> String {
        match self {
            Check::Tcp => "tcp connect".to_owned(),
            Check::Http(h) => {
                let mut s = format!("HTTP GET {} expecting {}", h.path, h.expect);
                if let Some(host) = &h.host {
                    s.push_str(&format!(" (Host: {host})"));
                }
                if let Some(text) = &h.contains {
                    s.push_str(&format!(" and a body containing '{text}'"));
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK\r\n"), Ok(200));
        assert_eq!(
            parse_status_line("HTTP/1.0 503 Service Unavailable"),
            Ok(503)
        );
        assert_eq!(parse_status_line("HTTP/1.1 204"), Ok(204));
        assert_eq!(parse_status_line("HTTP/2 404 Not Found"), Ok(404));
        assert_eq!(parse_status_line("HTTP/1.1 200 "), Ok(200));
        for bad in [
            "",
            "HTTP/1.1",
            "HTTP/1.1 20 OK",
            "HTTP/1.1 2000 OK",
            "HTTP/1.1 abc OK",
            "HTTP/1.1 099 x",
            "HTTP/ 200 OK",
            "HTTP/1. 200 OK",
            "HTTP/x.1 200 OK",
            "http/1.1 200 OK",
            "SSH-2.0-OpenSSH_9.2",
            "HTTP/1.1  200 OK",
        ] {
            assert!(
                matches!(parse_status_line(bad), Err(CheckFailure::NotHttp(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn request_is_http10_with_host_and_close() {
        let r = build_request("/health?x=1", "192.0.2.11:8080");
        assert!(r.starts_with("GET /health?x=1 HTTP/1.0\r\nHost: 192.0.2.11:8080\r\n"));
        assert!(r.contains("\r\nConnection: close\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn host_port_split_for_tcp() {
        assert_eq!(
            split_host_port("192.0.2.11:80"),
            Some(("192.0.2.11".into(), 80))
        );
        assert_eq!(split_host_port("[::1]:22"), Some(("::1".into(), 22)));
        assert_eq!(
            split_host_port("localhost:8080"),
            Some(("localhost".into(), 8080))
        );
        for bad in [
            "192.0.2.11",
            "::1:22",
            ":80",
            "h:",
            "h:0",
            "h:70000",
            "[::1]22",
            "h:+1",
        ] {
            assert_eq!(split_host_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn judging_status_and_body() {
        let ok = HttpResponse {
            status: 200,
            body: b"all good here".to_vec(),
        };
        assert_eq!(judge(&ok, 200, None), Ok(()));
        assert_eq!(judge(&ok, 200, Some("good")), Ok(()));
        assert_eq!(
            judge(&ok, 204, None),
            Err(CheckFailure::Status {
                got: 200,
                expected: 204
            })
        );
        assert_eq!(
            judge(&ok, 200, Some("bad")).map_err(|e| e.to_string()),
            Err("HTTP status 200 but the body does not contain 'bad'".into())
        );
    }

    /// Serves one connection on 127.0.0.1 with `reply` and returns what the client sent.
    fn one_shot_server(reply: &'static [u8]) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while head_end(&req).is_none() {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let _ = s.write_all(reply);
            req
        });
        (addr, h)
    }

    #[test]
    fn http_get_against_a_local_server() {
        let (addr, h) = one_shot_server(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy");
        let resp = http_get(&[addr], "example.test", "/h", Duration::from_secs(5), true).unwrap();
        assert_eq!(resp.status, 503);
        assert_eq!(resp.body, b"busy");
        let req = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(
            req.starts_with("GET /h HTTP/1.0\r\nHost: example.test\r\n"),
            "{req}"
        );
    }

    #[test]
    fn http_check_reports_status_mismatch_and_garbage() {
        let (addr, h) = one_shot_server(b"HTTP/1.0 500 Oops\r\n\r\n");
        let check = Check::Http(HttpCheck {
            path: "/".into(),
            expect: 200,
            host: None,
            contains: None,
        });
        assert_eq!(
            check.run(addr, Duration::from_secs(5)),
            Err(CheckFailure::Status {
                got: 500,
                expected: 200
            })
        );
        let req = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(req.contains(&format!("Host: {addr}\r\n")), "{req}");

        let (addr, h) = one_shot_server(b"SSH-2.0-OpenSSH\r\n\r\n");
        assert!(matches!(
            check.run(addr, Duration::from_secs(5)),
            Err(CheckFailure::NotHttp(_))
        ));
        h.join().unwrap();
    }

    #[test]
    fn tcp_check_refused_on_a_closed_port() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(Check::Tcp.run(addr, Duration::from_secs(2)), Ok(()));
        drop(l);
        assert_eq!(
            Check::Tcp.run(addr, Duration::from_secs(2)),
            Err(CheckFailure::Refused)
        );
    }

    #[test]
    fn timeouts_are_shown_in_milliseconds() {
        let t = Duration::from_micros(1_500_900);
        assert_eq!(
            CheckFailure::ConnectTimeout(t).to_string(),
            "connect timed out after 1500 ms"
        );
        assert_eq!(
            CheckFailure::ResponseTimeout(t).to_string(),
            "no complete response within 1500 ms"
        );
    }

    #[test]
    fn silent_server_times_out_within_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let start = Instant::now();
        // The kernel completes the handshake (backlog); nobody ever answers.
        let r = http_get(&[addr], "h", "/", Duration::from_millis(200), false);
        assert_eq!(
            r,
            Err(CheckFailure::ResponseTimeout(Duration::from_millis(200)))
        );
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(l);
    }
}
