//! The point Python OSprofiler's `requests` patching (`osprofiler/requests.py`) records for
//! an outgoing call: its name and its start and stop info.

use osprofiler_core::{Info, PointName};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};

/// The point's name: the URL's scheme (`http`, `https`), as Python's `parsed_url.scheme`.
pub(crate) fn point_name(url: &Url) -> PointName {
    match url.scheme() {
        "http" => PointName::from("http"),
        "https" => PointName::from("https"),
        other => PointName::from(other.to_owned()),
    }
}

/// `{"requests": {"method", "query", "path", "hostname", "port", "scheme"}}`, each as
/// Python's `urllib.parse.urlparse` gives it: `query` raw and `""` when absent, `path`
/// without `;params` of its last segment, `hostname` lower-case without IPv6 brackets
/// (`null` when there is none), `port` the explicit port, else 80 for `http` and 443 for
/// `https`, else `""`.
pub(crate) fn start_info(method: &Method, url: &Url) -> Info {
    let hostname = match url.host() {
        Some(url::Host::Ipv6(addr)) => Value::from(addr.to_string()),
        Some(host) => Value::from(host.to_string().to_lowercase()),
        None => Value::Null,
    };
    let port = match (url.port(), url.scheme()) {
        (Some(p), _) => Value::from(p),
        (None, "http") => Value::from(80),
        (None, "https") => Value::from(443),
        (None, _) => Value::from(""),
    };
    let mut requests = Map::new();
    requests.insert("method".to_owned(), Value::from(method.as_str()));
    requests.insert("query".to_owned(), Value::from(url.query().unwrap_or("")));
    requests.insert("path".to_owned(), Value::from(python_path(url.path())));
    requests.insert("hostname".to_owned(), hostname);
    requests.insert("port".to_owned(), port);
    requests.insert("scheme".to_owned(), Value::from(url.scheme()));
    let mut info = Info::new();
    info.insert("requests".to_owned(), Value::Object(requests));
    info
}

/// `{"requests": {"status_code": <code>}}`.
pub(crate) fn stop_info(status: StatusCode) -> Info {
    let mut requests = Map::new();
    requests.insert("status_code".to_owned(), Value::from(status.as_u16()));
    let mut info = Info::new();
    info.insert("requests".to_owned(), Value::Object(requests));
    info
}

/// `urlparse` splits `;params` off the last path segment and Python records the path
/// without them.
fn python_path(path: &str) -> &str {
    let last = path.rfind('/').map_or(0, |i| i + 1);
    match path[last..].find(';') {
        Some(i) => &path[..last + i],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, url: &str) -> String {
        serde_json::to_string(&start_info(&method, &Url::parse(url).unwrap())).unwrap()
    }

    #[test]
    fn start_info_is_pythons() {
        assert_eq!(
            info(Method::GET, "http://Example.COM/v2/servers?limit=1&x=a%20b"),
            r#"{"requests":{"method":"GET","query":"limit=1&x=a%20b","path":"/v2/servers","hostname":"example.com","port":80,"scheme":"http"}}"#
        );
        assert_eq!(
            info(Method::POST, "https://[::1]:8443/a;v=1/b;p=2"),
            r#"{"requests":{"method":"POST","query":"","path":"/a;v=1/b","hostname":"::1","port":8443,"scheme":"https"}}"#
        );
        assert_eq!(
            info(Method::DELETE, "https://10.0.0.1/"),
            r#"{"requests":{"method":"DELETE","query":"","path":"/","hostname":"10.0.0.1","port":443,"scheme":"https"}}"#
        );
        // Python guesses only the ports of http and https.
        assert_eq!(
            start_info(&Method::GET, &Url::parse("ws://h/x").unwrap())["requests"]["port"],
            ""
        );
    }

    #[test]
    fn names_and_stop_info() {
        assert_eq!(
            point_name(&Url::parse("https://h/").unwrap()).as_str(),
            "https"
        );
        assert_eq!(
            point_name(&Url::parse("http://h/").unwrap()).as_str(),
            "http"
        );
        assert_eq!(
            serde_json::to_string(&stop_info(StatusCode::NOT_FOUND)).unwrap(),
            r#"{"requests":{"status_code":404}}"#
        );
    }
}
