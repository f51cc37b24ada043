//! A tiny gRPC service written by hand with tonic's building blocks (no protoc): a unary
//! method `/test.Echo/Say` whose reply tells what the handler saw of the trace, and a
//! server-streaming `/test.Echo/Count` whose stream does its work as it is read.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use osprofiler::profiler;
use tonic::body::Body;
use tonic::codegen::tokio_stream::{self, Stream, StreamExt};
use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic_prost::ProstCodec;

pub const SAY: &str = "/test.Echo/Say";
pub const COUNT: &str = "/test.Echo/Count";
/// How long `Count` works on each message it streams.
pub const COUNT_STEP: Duration = Duration::from_millis(20);

#[derive(Clone, PartialEq, prost::Message)]
pub struct SayRequest {
    #[prost(string, tag = "1")]
    pub message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SayReply {
    #[prost(string, tag = "1")]
    pub message: String,
    /// A profiler was current in the handler.
    #[prost(bool, tag = "2")]
    pub profiled: bool,
    /// Its base id and current point, when profiled.
    #[prost(string, tag = "3")]
    pub base_id: String,
    #[prost(string, tag = "4")]
    pub point_id: String,
    /// The call carried `x-trace-info` metadata.
    #[prost(bool, tag = "5")]
    pub had_trace_metadata: bool,
}

/// Whether the handler enters the profiler left by `ServerTraceInterceptor` itself.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Layer,
    Interceptor,
}

#[derive(Clone, Debug)]
pub struct EchoService(pub Mode);

impl NamedService for EchoService {
    const NAME: &'static str = "test.Echo";
}

#[osprofiler::trace(name = "db")]
fn lookup(message: &str) -> usize {
    message.len()
}

async fn say(
    request: tonic::Request<SayRequest>,
) -> Result<tonic::Response<SayReply>, tonic::Status> {
    let had_trace_metadata = request
        .metadata()
        .contains_key(osprofiler_tonic::TRACE_INFO.as_str());
    let message = request.into_inner().message;
    tokio::time::sleep(Duration::from_millis(2)).await;
    lookup(&message);
    if message == "fail" {
        return Err(tonic::Status::not_found("no such thing"));
    }
    let current = profiler::get();
    Ok(tonic::Response::new(SayReply {
        message,
        profiled: current.is_some(),
        base_id: current
            .as_ref()
            .map(|p| p.base_id().to_text())
            .unwrap_or_default(),
        point_id: current
            .as_ref()
            .map(|p| p.id().to_text())
            .unwrap_or_default(),
        had_trace_metadata,
    }))
}

struct Say(Mode);

impl UnaryService<SayRequest> for Say {
    type Response = SayReply;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<SayReply>, tonic::Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<SayRequest>) -> Self::Future {
        match self.0 {
            Mode::Layer => Box::pin(say(request)),
            Mode::Interceptor => {
                use osprofiler::ProfilerExt;
                let profiler = osprofiler_tonic::profiler_of(&request);
                Box::pin(
                    async move {
                        let _point = osprofiler::Trace::start("rpc", None);
                        say(request).await
                    }
                    .with_profiler(profiler),
                )
            }
        }
    }
}

/// `Count`: as many replies as the request's message says (`"3"`), each made while the
/// response body is read (a `db` point and [`COUNT_STEP`] of work per reply), telling whether
/// the stream ran under a profiler; `"3!"` ends the stream with an `INTERNAL` status instead
/// of `OK` after the three (a failure in the trailers).
struct Count;

impl ServerStreamingService<SayRequest> for Count {
    type Response = SayReply;
    type ResponseStream = Pin<Box<dyn Stream<Item = Result<SayReply, tonic::Status>> + Send>>;
    type Future = std::future::Ready<Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<SayRequest>) -> Self::Future {
        let message = request.into_inner().message;
        let (n, fail) = match message.strip_suffix('!') {
            Some(n) => (n, true),
            None => (message.as_str(), false),
        };
        let n: u32 = n.parse().unwrap_or(0);
        let replies = tokio_stream::iter(0..n).then(|i| async move {
            tokio::time::sleep(COUNT_STEP).await;
            lookup("item");
            Ok(SayReply {
                message: i.to_string(),
                profiled: profiler::is_active(),
                ..SayReply::default()
            })
        });
        let failure = tokio_stream::iter(fail.then(|| Err(tonic::Status::internal("boom"))));
        let stream = replies.chain(failure);
        std::future::ready(Ok(tonic::Response::new(Box::pin(stream))))
    }
}

impl tower_service::Service<http::Request<Body>> for EchoService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let mode = self.0;
        Box::pin(async move {
            if request.uri().path() == SAY {
                let mut grpc = Grpc::new(ProstCodec::<SayReply, SayRequest>::default());
                Ok(grpc.unary(Say(mode), request).await)
            } else if request.uri().path() == COUNT {
                let mut grpc = Grpc::new(ProstCodec::<SayReply, SayRequest>::default());
                Ok(grpc.server_streaming(Count, request).await)
            } else {
                Ok(tonic::Status::unimplemented("").into_http())
            }
        })
    }
}

/// Serves `router` on 127.0.0.1:0 in a background task; its address.
pub async fn serve<L, ResBody>(
    server: tonic::transport::Server<L>,
    service: EchoService,
) -> SocketAddr
where
    L: tower_layer::Layer<tonic::service::Routes> + Clone + Send + 'static,
    L::Service: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    <L::Service as tower_service::Service<http::Request<Body>>>::Future: Send + 'static,
    <L::Service as tower_service::Service<http::Request<Body>>>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = server;
    let router = server.add_service(service);
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    addr
}

pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the test's calls go through: a channel, bare or layered (any tonic client service).
pub trait Channel:
    tonic::client::GrpcService<
    Body,
    Error: Into<BoxError>,
    ResponseBody: http_body::Body<Data = bytes::Bytes, Error: Into<BoxError>> + Send + 'static,
>
{
}

impl<T> Channel for T where
    T: tonic::client::GrpcService<
        Body,
        Error: Into<BoxError>,
        ResponseBody: http_body::Body<Data = bytes::Bytes, Error: Into<BoxError>> + Send + 'static,
    >
{
}

/// Runs `call` with a tonic client over `service` once it is ready, within 10 s.
async fn when_ready<T: Channel, R, Fut>(
    service: T,
    call: impl FnOnce(tonic::client::Grpc<T>) -> Fut,
) -> Result<R, tonic::Status>
where
    Fut: Future<Output = Result<R, tonic::Status>>,
{
    let mut grpc = tonic::client::Grpc::new(service);
    let fut = async move {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.into().to_string()))?;
        call(grpc).await
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("the call timed out")
}

/// Calls `Count` with `message` and reads its stream to the end: the replies, or the status
/// the stream ended with.
pub async fn count(service: impl Channel, message: &str) -> Result<Vec<SayReply>, tonic::Status> {
    let request = tonic::Request::new(SayRequest {
        message: message.to_owned(),
    });
    when_ready(service, |mut grpc| async move {
        let path = http::uri::PathAndQuery::from_static(COUNT);
        let codec = ProstCodec::<SayRequest, SayReply>::default();
        let mut stream = grpc
            .server_streaming(request, path, codec)
            .await?
            .into_inner();
        let mut replies = Vec::new();
        while let Some(reply) = stream.message().await? {
            replies.push(reply);
        }
        Ok(replies)
    })
    .await
}

/// Calls `Say`.
pub async fn call(
    service: impl Channel,
    request: tonic::Request<SayRequest>,
) -> Result<SayReply, tonic::Status> {
    when_ready(service, |mut grpc| async move {
        let path = http::uri::PathAndQuery::from_static(SAY);
        let codec = ProstCodec::<SayRequest, SayReply>::default();
        grpc.unary(request, path, codec).await
    })
    .await
    .map(tonic::Response::into_inner)
}
