//! What the `wsgi` point records of a request (`docs/wire.md`, 7.1): Python's request info,
//! and an incoming W3C `traceparent`.

use std::borrow::Cow;

use http::header::HeaderMap;
use http::Request;
use osprofiler_core::propagation::w3c::{is_valid_traceparent, TRACEPARENT, TRACESTATE};
use osprofiler_core::Info;
use serde_json::{Map, Value};

/// The key in the `wsgi` start info under which an incoming `traceparent` is recorded (and
/// [`TRACESTATE_KEY`] for its `tracestate`), beside Python's `request`.
pub const TRACEPARENT_KEY: &str = "traceparent";
/// See [`TRACEPARENT_KEY`].
pub const TRACESTATE_KEY: &str = "tracestate";

/// W3C's advice: a `tracestate` longer than this may be dropped.
const TRACESTATE_MAX: usize = 512;

/// The `wsgi` start info Python's `WsgiMiddleware` records, `{"request": {"path", "query",
/// "method", "scheme"}}` in that order: the path as webob reports it ([`wsgi_path`]), the
/// raw query string without `?`
/// (`""` when there is none), the method, and the scheme of the URI (`default_scheme` when
/// the request names only a path). With a well-formed `traceparent` header, it is recorded
/// under [`TRACEPARENT_KEY`] (and `tracestate` under [`TRACESTATE_KEY`]).
pub(crate) fn request_info<B>(req: &Request<B>, default_scheme: &str) -> Info {
    let uri = req.uri();
    // Sized for its four keys: no regrowth on the traced request's path.
    let mut request = Map::with_capacity(4);
    request.insert("path".to_owned(), Value::from(wsgi_path(uri.path())));
    request.insert("query".to_owned(), Value::from(uri.query().unwrap_or("")));
    request.insert("method".to_owned(), Value::from(req.method().as_str()));
    request.insert(
        "scheme".to_owned(),
        Value::from(uri.scheme_str().unwrap_or(default_scheme)),
    );
    let mut info = Info::new();
    info.insert("request".to_owned(), Value::Object(request));
    record_trace_context(req.headers(), &mut info);
    info
}

/// The path as Python's `webob.Request.path` gives it: the WSGI server percent-decodes the
/// path into `PATH_INFO`, and webob quotes it again with `urllib.parse.quote(safe=
/// "/~!$&'()*+,;=:@")`. So `%41` reads `A`, `%2F` reads `/`, a space or a non-ASCII byte is
/// `%XX` in upper-case hex, and a `%` that starts no escape becomes `%25`. Usually the path
/// as sent, borrowed.
pub(crate) fn wsgi_path(raw: &str) -> Cow<'_, str> {
    fn safe(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"_.-~/!$&'()*+,;=:@".contains(&b)
    }
    if raw.bytes().all(safe) {
        return Cow::Borrowed(raw);
    }
    fn hex_value(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        let mut b = bytes[i];
        i += 1;
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i).copied().and_then(hex_value),
                bytes.get(i + 1).copied().and_then(hex_value),
            ) {
                b = hi << 4 | lo;
                i += 2;
            }
        }
        if safe(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
    Cow::Owned(out)
}

/// Adds a valid incoming W3C `traceparent` (and its `tracestate`) to `info`.
fn record_trace_context(headers: &HeaderMap, info: &mut Info) {
    let Some(parent) = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if !is_valid_traceparent(parent) {
        return;
    }
    info.insert(TRACEPARENT_KEY.to_owned(), Value::from(parent));
    if let Some(state) = headers.get(TRACESTATE).and_then(|v| v.to_str().ok()) {
        if !state.is_empty() && state.len() <= TRACESTATE_MAX {
            info.insert(TRACESTATE_KEY.to_owned(), Value::from(state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info_is_pythons() {
        let req = Request::post("/v2/servers%20x?limit=1&marker=a%2Fb")
            .body(())
            .unwrap();
        let info = request_info(&req, "http");
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"request":{"path":"/v2/servers%20x","query":"limit=1&marker=a%2Fb","method":"POST","scheme":"http"}}"#
        );
        let req = Request::get("https://h/x").body(()).unwrap();
        assert_eq!(request_info(&req, "http")["request"]["scheme"], "https");
        assert_eq!(request_info(&req, "http")["request"]["query"], "");
    }

    #[test]
    fn paths_read_as_webob_reads_them() {
        // Pairs checked against webob 1.8 (`Request.blank(p).path`).
        for (sent, webob) in [
            ("/v2/servers", "/v2/servers"),
            ("/a%20b", "/a%20b"),
            ("/a%41b", "/aAb"),
            ("/caf%C3%A9/x", "/caf%C3%A9/x"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/%2Fslash", "//slash"),
            ("/~user/!$&'()*+,;=:@", "/~user/!$&'()*+,;=:@"),
            ("/a%zz", "/a%25zz"),
            ("/a\"b", "/a%22b"),
        ] {
            assert_eq!(wsgi_path(sent), webob, "{sent}");
        }
        assert!(matches!(wsgi_path("/v2/servers/x"), Cow::Borrowed(_)));
    }

    #[test]
    fn traceparent_is_recorded_only_when_well_formed() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let req = Request::get("/")
            .header("traceparent", good)
            .header("tracestate", "congo=t61rcWkgMzE")
            .body(())
            .unwrap();
        let info = request_info(&req, "http");
        assert_eq!(info[TRACEPARENT_KEY], good);
        assert_eq!(info[TRACESTATE_KEY], "congo=t61rcWkgMzE");
        let req = Request::get("/")
            .header("traceparent", "junk")
            .body(())
            .unwrap();
        assert!(!request_info(&req, "http").contains_key(TRACEPARENT_KEY));
    }
}
