//! What the middleware reads from a request: the signed trace it carries, the `wsgi` point's
//! info, and an incoming W3C `traceparent`.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Request;
use osprofiler_core::signing::{SignedTrace, Verifier};
use osprofiler_core::Info;
use serde_json::{Map, Value};

/// `X-Trace-Info`, as a ready header name: looking it up hashes no string at run time.
pub(crate) const X_TRACE_INFO: HeaderName = HeaderName::from_static("x-trace-info");
/// `X-Trace-HMAC`.
pub(crate) const X_TRACE_HMAC: HeaderName = HeaderName::from_static("x-trace-hmac");
/// W3C trace context's `traceparent`.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C trace context's `tracestate`.
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The key in the `wsgi` start info under which an incoming `traceparent` is recorded (and
/// [`TRACESTATE_KEY`] for its `tracestate`), beside Python's `request`.
pub const TRACEPARENT_KEY: &str = "traceparent";
/// See [`TRACEPARENT_KEY`].
pub const TRACESTATE_KEY: &str = "tracestate";

/// W3C's advice: a `tracestate` longer than this may be dropped.
const TRACESTATE_MAX: usize = 512;

/// Verifies the trace headers against `keys` as Python's `WsgiMiddleware` does
/// ([`Verifier::verify_trace`]: the signature matches one of the keys, and the object holds
/// `base_id` and nothing else but `parent_id`). A header value that is not visible ASCII,
/// or anything the verifier rejects, is `None`: the request then runs unprofiled.
pub(crate) fn verify(
    info: &HeaderValue,
    hmac: Option<&HeaderValue>,
    keys: &Verifier,
) -> Option<SignedTrace> {
    let info = info.to_str().ok()?;
    let hmac = match hmac {
        Some(h) => h.to_str().ok()?,
        None => "",
    };
    keys.verify_trace(info, hmac)
}

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

/// W3C trace context's `traceparent` syntax: `version-traceid-parentid-flags`, lower-case
/// hex of 2, 32, 16 and 2 digits; version `ff` is invalid, all-zero ids are invalid, version
/// `00` has nothing after the flags and later versions may append `-...`.
pub(crate) fn is_valid_traceparent(s: &str) -> bool {
    fn hex(s: &str) -> bool {
        s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
    fn zeros(s: &str) -> bool {
        s.bytes().all(|b| b == b'0')
    }
    if s.len() < 55 || !s.is_char_boundary(55) {
        return false;
    }
    let (head, rest) = s.split_at(55);
    let b = head.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return false;
    }
    let (version, trace_id, span_id, flags) =
        (&head[..2], &head[3..35], &head[36..52], &head[53..]);
    if !(hex(version) && hex(trace_id) && hex(span_id) && hex(flags)) {
        return false;
    }
    if version == "ff" || zeros(trace_id) || zeros(span_id) {
        return false;
    }
    rest.is_empty() || (version != "00" && rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::signing::{pack_ids, signed_pack};

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn keys(k: &[&str]) -> Verifier {
        Verifier::new(k)
    }

    #[test]
    fn accepts_python_headers_with_a_rotated_key() {
        let (info, hmac) = pack_ids("b", "p", "old");
        let k = keys(&["new", "old"]);
        let got = verify(&hv(&info), Some(&hv(&hmac)), &k).unwrap();
        assert_eq!(
            got,
            SignedTrace {
                hmac_key: "old".into(),
                base_id: Some("b".into()),
                parent_id: Some("p".into())
            }
        );
    }

    #[test]
    fn rejects_objects_python_middleware_rejects() {
        let k = keys(&["k"]);
        for data in [
            serde_json::json!({"parent_id": "p"}),
            serde_json::json!({"base_id": "b", "extra": 1}),
            serde_json::json!({"base_id": "b", "hmac_key": "forged"}),
            serde_json::json!({"base_id": 5}),
            serde_json::json!({"base_id": "b", "parent_id": ["p"]}),
        ] {
            let (info, hmac) = signed_pack(&data, "k").unwrap();
            // A sender's own `hmac_key` is overwritten by the server key that matched, as
            // in Python: never trusted, never a reason to reject.
            let got = verify(&hv(&info), Some(&hv(&hmac)), &k);
            if data.get("hmac_key").is_some() {
                assert_eq!(got.map(|g| g.hmac_key), Some("k".into()), "{data}");
            } else {
                assert!(got.is_none(), "{data}");
            }
        }
        let (info, _) = pack_ids("b", "p", "k");
        assert!(verify(&hv(&info), None, &k).is_none());
    }

    #[test]
    fn null_ids_mean_a_new_trace() {
        let data = serde_json::json!({"base_id": null, "parent_id": null});
        let (info, hmac) = signed_pack(&data, "k").unwrap();
        let k = keys(&["k"]);
        let got = verify(&hv(&info), Some(&hv(&hmac)), &k).unwrap();
        assert_eq!((got.base_id, got.parent_id), (None, None));
    }

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
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "junk",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
        assert!(is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
        let req = Request::get("/")
            .header("traceparent", "junk")
            .body(())
            .unwrap();
        assert!(!request_info(&req, "http").contains_key(TRACEPARENT_KEY));
    }
}
