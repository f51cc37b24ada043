//! The web UI's routes (docs/ui.md): the pages `/` (the trace list), `/traces/{base_id}` and
//! `/compare/{a}/{b}`, and every file of the UI at `/ui/{name}`, all from the bytes embedded
//! in `osprofiler-ui`. Nothing here reads the store: the pages fetch the API from the browser,
//! so the pages need no token (they hold no trace data) and the API keeps its own check.
//!
//! Caching: every answer carries the file's `ETag` (a hash fixed at build time) and is
//! revalidated by the browser (`Cache-Control: no-cache`), which then gets an empty `304`
//! while the binary is the same: the URLs hold no version, so a longer `max-age` would keep an
//! old script after an upgrade. A `Content-Security-Policy` allows only this origin's scripts,
//! styles and API (the UI fetches nothing from elsewhere) and no framing.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use osprofiler_ui::Asset;

/// What the pages may load: their own scripts and styles, inline style attributes (set by the
/// scripts for bar positions), `data:` images and the API of this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The UI's routes, to merge into the collector's router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { page("list.html", &h) }),
        )
        .route(
            "/traces/{base_id}",
            get(|h: HeaderMap| async move { page("trace.html", &h) }),
        )
        .route(
            "/compare/{a}/{b}",
            get(|h: HeaderMap| async move { page("compare.html", &h) }),
        )
        .route(
            "/ui/{name}",
            get(|Path(name): Path<String>, h: HeaderMap| async move {
                match osprofiler_ui::asset(&name) {
                    Some(asset) => serve(asset, &h),
                    None => crate::error_response(StatusCode::NOT_FOUND, "no such UI file"),
                }
            }),
        )
}

/// The page shell `name` (always one of the UI's).
fn page(name: &str, request: &HeaderMap) -> Response {
    match osprofiler_ui::asset(name) {
        Some(asset) => serve(asset, request),
        None => crate::error_response(StatusCode::INTERNAL_SERVER_ERROR, "UI page missing"),
    }
}

/// `asset`, or `304 Not Modified` when the request's `If-None-Match` names its `ETag`.
fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_static(asset.etag);
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if not_modified(request, asset.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.bytes,
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (or is `*`).
fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_none_match(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn revalidation_matches_the_etag_only() {
        let asset = osprofiler_ui::asset("trace.js").unwrap();
        assert!(not_modified(&with_if_none_match(asset.etag), asset.etag));
        assert!(not_modified(
            &with_if_none_match(&format!("\"x\", W/{}", asset.etag)),
            asset.etag
        ));
        assert!(not_modified(&with_if_none_match("*"), asset.etag));
        assert!(!not_modified(&with_if_none_match("\"other\""), asset.etag));
        assert!(!not_modified(&HeaderMap::new(), asset.etag));
    }

    #[test]
    fn answers_carry_type_cache_and_policy_headers() {
        let asset = osprofiler_ui::asset("base.css").unwrap();
        let full = serve(asset, &HeaderMap::new());
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers()[header::CONTENT_TYPE], asset.content_type);
        assert_eq!(full.headers()[header::ETAG], asset.etag);
        assert_eq!(full.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(full.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let cached = serve(asset, &with_if_none_match(asset.etag));
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert!(cached.headers().get(header::CONTENT_TYPE).is_none());
    }
}
