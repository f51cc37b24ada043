//! One OTLP/HTTP export: an `ExportTraceServiceRequest` encoded with prost and posted as
//! `application/x-protobuf`, as Python's `OTLPSpanExporter` posts it.
//!
//! Every request is bounded: the TCP connect by `connect_timeout`, the whole exchange
//! (connect, send, the answer and its body) by `timeout`. Connections are kept in hyper's
//! pool and made again when the collector has gone and come back.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use crate::endpoint::Endpoint;
use crate::mapping::SCOPE_NAME;
use crate::spans::Finished;

/// The most of an error answer's body quoted in a message.
const MAX_QUOTED_BODY: usize = 200;
/// The most of an answer's body read (collectors answer with a small message).
const MAX_BODY: usize = 64 * 1024;

/// Posts batches of spans to one endpoint.
#[derive(Debug)]
pub struct Exporter {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Endpoint,
    timeout: Duration,
}

impl Exporter {
    /// An exporter for `endpoint`; nothing is connected until the first export.
    pub fn new(endpoint: Endpoint, timeout: Duration, connect_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Exporter {
            client,
            endpoint,
            timeout,
        }
    }

    /// Sends `spans` in one request. The error says what went wrong, for the driver to put
    /// after the connection string.
    pub async fn export(&self, spans: Vec<Finished>) -> Result<(), String> {
        let body = encode(spans);
        let uri = &self.endpoint.uri;
        match tokio::time::timeout(self.timeout, self.post(body)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("POST {uri}: {e}")),
            Err(_) => Err(format!(
                "POST {uri}: no answer within {:?} (timed out)",
                self.timeout
            )),
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.uri.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("osprofiler-rs/", env!("CARGO_PKG_VERSION"))),
            );
        if let Some(auth) = &self.endpoint.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| describe_client_error(&e))?;
        let status = response.status();
        // Read the answer so the connection can be used again (and quote it on an error).
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&body);
        let quoted: String = text.chars().take(MAX_QUOTED_BODY).collect();
        Err(format!("the collector answered {status}: {quoted}"))
    }
}

/// The error of a request that got no answer, with its cause (`Connection refused`, ...):
/// hyper's own message only says "client error (Connect)".
fn describe_client_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The request body: spans grouped by their resource's `service.name`, each group under
/// Python's instrumentation scope, in the order the spans ended.
pub fn encode(spans: Vec<Finished>) -> Vec<u8> {
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    for Finished { service_name, span } in spans {
        let i = match resource_spans
            .iter()
            .position(|r| resource_service_name(r) == Some(service_name.as_str()))
        {
            Some(i) => i,
            None => {
                resource_spans.push(new_resource_spans(service_name));
                resource_spans.len() - 1
            }
        };
        let group = &mut resource_spans[i];
        group.scope_spans[0].spans.push(span);
    }
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

fn new_resource_spans(service_name: String) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(service_name)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_owned(),
                ..Default::default()
            }),
            spans: Vec::new(),
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn resource_service_name(r: &ResourceSpans) -> Option<&str> {
    let attr = r.resource.as_ref()?.attributes.first()?;
    match attr.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn finished(service: &str, name: &str) -> Finished {
        Finished {
            service_name: service.to_owned(),
            span: Span {
                name: name.to_owned(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn spans_are_grouped_by_service_name() {
        let body = encode(vec![
            finished("a", "1"),
            finished("b", "2"),
            finished("a", "3"),
        ]);
        let req = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        assert_eq!(req.resource_spans.len(), 2);
        let names: Vec<Vec<&str>> = req
            .resource_spans
            .iter()
            .map(|r| {
                assert_eq!(r.scope_spans.len(), 1);
                assert_eq!(
                    r.scope_spans[0].scope.as_ref().unwrap().name,
                    "osprofiler.drivers.otlp"
                );
                r.scope_spans[0]
                    .spans
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect()
            })
            .collect();
        assert_eq!(names, [vec!["1", "3"], vec!["2"]]);
        assert_eq!(resource_service_name(&req.resource_spans[1]), Some("b"));
    }
}
