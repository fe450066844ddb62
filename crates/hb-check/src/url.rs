//! `http://host[:port]/path` URLs, the only kind `hb-check http` fetches.

use std::net::Ipv6Addr;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not starting with `http://` (https is named specifically).
    #[error("'{0}' is not an http:// URL")]
    Scheme(String),
    /// `https://`: no TLS here.
    #[error("https is not supported ('{0}'); check the plain-http port instead")]
    Https(String),
    /// No host between `//` and the path.
    #[error("'{0}' has no host")]
    NoHost(String),
    /// `user@host` is not supported.
    #[error("'{0}': user information (user@host) is not supported")]
    UserInfo(String),
    /// A bad `[IPv6]` literal or a bad host name.
    #[error("'{0}' is not a valid host")]
    Host(String),
    /// Not a port number 1-65535.
    #[error("'{0}' is not a port number 1-65535")]
    Port(String),
    /// Blanks or control characters would break the request line.
    #[error("the path of '{0}' contains blanks or control characters")]
    Path(String),
}

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// The host to connect to: an IPv4 literal, an IPv6 literal (without brackets) or a name.
    pub host: String,
    /// The port (80 when absent).
    pub port: u16,
    /// The `Host:` header value: the host as written (IPv6 in brackets), with `:port` when a
    /// port other than 80 was given.
    pub host_header: String,
    /// The request target: path and query, `/` when absent; the fragment is dropped.
    pub path: String,
}

fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses `http://host[:port][/path][?query][#fragment]`. The scheme is case-insensitive.
///
/// # Errors
/// [`UrlError`] naming what is wrong.
pub fn parse_http_url(url: &str) -> Result<HttpUrl, UrlError> {
    let lower_prefix: String = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    let rest = if lower_prefix.starts_with("http://") {
        &url[7..]
    } else if lower_prefix.starts_with("https://") {
        return Err(UrlError::Https(url.to_owned()));
    } else {
        return Err(UrlError::Scheme(url.to_owned()));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlError::UserInfo(url.to_owned()));
    }
    if authority.is_empty() {
        return Err(UrlError::NoHost(url.to_owned()));
    }
    let (host, host_text, port_text) = if let Some(inner) = authority.strip_prefix('[') {
        let (ip, after) = inner
            .split_once(']')
            .ok_or_else(|| UrlError::Host(authority.to_owned()))?;
        ip.parse::<Ipv6Addr>()
            .map_err(|_| UrlError::Host(authority.to_owned()))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::Host(authority.to_owned()))?,
            ),
        };
        (ip.to_owned(), format!("[{ip}]"), port)
    } else {
        let (h, p) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if h.is_empty() {
            return Err(UrlError::NoHost(url.to_owned()));
        }
        if !valid_hostname(h) {
            return Err(UrlError::Host(h.to_owned()));
        }
        (h.to_owned(), h.to_owned(), p)
    };
    let port = match port_text {
        None | Some("") => 80,
        Some(p) => {
            let bad = || UrlError::Port(p.to_owned());
            if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad()),
                Ok(n) => n,
            }
        }
    };
    let without_fragment = tail.split('#').next().unwrap_or("");
    let path = if without_fragment.is_empty() {
        "/".to_owned()
    } else if without_fragment.starts_with('?') {
        format!("/{without_fragment}")
    } else {
        without_fragment.to_owned()
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Path(url.to_owned()));
    }
    let host_header = if port == 80 {
        host_text
    } else {
        format!("{host_text}:{port}")
    };
    Ok(HttpUrl {
        host,
        port,
        host_header,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(host: &str, port: u16, header: &str, path: &str) -> HttpUrl {
        HttpUrl {
            host: host.into(),
            port,
            host_header: header.into(),
            path: path.into(),
        }
    }

    #[test]
    fn hosts_ports_and_paths() {
        assert_eq!(
            parse_http_url("http://192.0.2.11/"),
            Ok(u("192.0.2.11", 80, "192.0.2.11", "/"))
        );
        assert_eq!(
            parse_http_url("http://192.0.2.11"),
            Ok(u("192.0.2.11", 80, "192.0.2.11", "/"))
        );
        assert_eq!(
            parse_http_url("HTTP://www.example.com:8080/health?full=1#top"),
            Ok(u(
                "www.example.com",
                8080,
                "www.example.com:8080",
                "/health?full=1"
            ))
        );
        assert_eq!(
            parse_http_url("http://[2001:db8::11]:81/x"),
            Ok(u("2001:db8::11", 81, "[2001:db8::11]:81", "/x"))
        );
        assert_eq!(
            parse_http_url("http://[::1]/"),
            Ok(u("::1", 80, "[::1]", "/"))
        );
        assert_eq!(
            parse_http_url("http://localhost:80?q"),
            Ok(u("localhost", 80, "localhost", "/?q"))
        );
        assert_eq!(parse_http_url("http://h:/p"), Ok(u("h", 80, "h", "/p")));
    }

    #[test]
    fn refuses_what_it_cannot_fetch() {
        assert!(matches!(
            parse_http_url("https://192.0.2.11/"),
            Err(UrlError::Https(_))
        ));
        assert!(matches!(
            parse_http_url("ftp://192.0.2.11/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            parse_http_url("192.0.2.11/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            parse_http_url("http:///x"),
            Err(UrlError::NoHost(_))
        ));
        assert!(matches!(
            parse_http_url("http://:80/x"),
            Err(UrlError::NoHost(_))
        ));
        assert!(matches!(
            parse_http_url("http://u:p@h/"),
            Err(UrlError::UserInfo(_))
        ));
        assert!(matches!(
            parse_http_url("http://h:0/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            parse_http_url("http://h:65536/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            parse_http_url("http://h:8o/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            parse_http_url("http://[2001:db8::1/"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            parse_http_url("http://[zz::1]/"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            parse_http_url("http://[::1]x/"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            parse_http_url("http://bad host/"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            parse_http_url("http://h/a b"),
            Err(UrlError::Path(_))
        ));
        assert!(matches!(
            parse_http_url("http://h/a\r\nX: y"),
            Err(UrlError::Path(_))
        ));
        // Multi-byte input never panics on the scheme check.
        assert!(matches!(parse_http_url("ü"), Err(UrlError::Scheme(_))));
        assert!(matches!(
            parse_http_url("http://ü/"),
            Err(UrlError::Host(_))
        ));
    }
}
