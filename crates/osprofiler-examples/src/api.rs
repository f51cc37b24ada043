//! The HTTP API of the three-services example (`api`, nova-api's role): an axum app behind
//! [`osprofiler_tower::ServerTraceLayer`], so a request signed with one of the service's HMAC
//! keys is a `wsgi` point whose children are the calls it makes; `POST /servers` asks the
//! worker over RPC ([`crate::compute::ComputeApi`], an `rpc` point whose request context
//! carries the trace on).
//!
//! - `POST /servers` with `{"name": "vm-1", "flavor": "m1.tiny"}` (`flavor` optional):
//!   `201 {"server": {"id", "name", "flavor", "status"}}`; `502 {"error": ...}` when the worker
//!   fails or does not answer; `400` (axum's) for a body that is not such JSON.
//! - `GET /healthz`: `ok` (never traced work; a readiness probe).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use osprofiler_tower::ServerTraceLayer;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::compute::ComputeApi;

/// The flavor of a server whose request names none.
pub const DEFAULT_FLAVOR: &str = "m1.tiny";

/// The body of `POST /servers`.
#[derive(Debug, Deserialize)]
pub struct CreateServer {
    /// The server's name.
    pub name: String,
    /// Its flavor ([`DEFAULT_FLAVOR`] when absent).
    #[serde(default)]
    pub flavor: Option<String>,
}

/// The worker's RPC API, shared by the requests (one call at a time: each waits for its
/// reply on the client's one reply consumer).
pub type Compute = Arc<Mutex<ComputeApi>>;

/// The app: its routes over `compute`, wrapped in `layer`.
pub fn router(compute: Compute, layer: ServerTraceLayer) -> Router {
    Router::new()
        .route("/servers", post(create_server))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(compute)
        .layer(layer)
}

/// `POST /servers`: runs in the request's trace when the request is signed.
async fn create_server(
    State(compute): State<Compute>,
    Json(body): Json<CreateServer>,
) -> (StatusCode, Json<Value>) {
    let flavor = body.flavor.as_deref().unwrap_or(DEFAULT_FLAVOR);
    let outcome = compute
        .lock()
        .await
        .build_instance(&body.name, flavor)
        .await;
    match outcome {
        Ok(server) => (StatusCode::CREATED, Json(json!({ "server": server }))),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": e.to_string() })),
        ),
    }
}
