//! Passing a trace on: the trace headers in and out of HTTP and gRPC headers, one way for
//! every integration (`osprofiler-tower`, `osprofiler-tonic`, `osprofiler-reqwest`). The
//! header bytes are Python's (`docs/wire.md`, trace headers).

use http::HeaderName;

/// `X-Trace-Info`, lower-cased as HTTP/2 and gRPC metadata carry it.
pub const TRACE_INFO: HeaderName = HeaderName::from_static("x-trace-info");
/// `X-Trace-HMAC`, lower-cased as HTTP/2 and gRPC metadata carry it.
pub const TRACE_HMAC: HeaderName = HeaderName::from_static("x-trace-hmac");
