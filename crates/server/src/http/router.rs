//! The whole server as one axum router: the API, the pages, the release downloads, and the
//! middleware every request passes through (in the order the comment inside says).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::{Extension, Router};
use doorstep_protocol::wire::ErrorCode;
use std::time::Duration;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::http::ApiError;
use crate::http::AppState;
use crate::http::middleware::limits;

/// The whole HTTP API and pages.
pub fn router(state: AppState) -> Router {
    let (api, doc) = crate::http::api::api_routes(&state).split_for_parts();
    let api = api
        .merge(
            crate::http::pages::routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_pages,
            )),
        )
        .merge(crate::http::api::releases::page_routes())
        .merge(crate::http::assets::routes());
    api.fallback(|| async {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such endpoint")
    })
    .method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::BadRequest, "method not allowed here")
    })
    // Innermost first: a gzipped body is decompressed (so the routes' body limits count the
    // decompressed bytes) and JSON answers are gzipped for clients that ask; other codings
    // are refused. Then the client's address, then the unread body (drained as it came, still
    // compressed), then the in-flight limit and timeout around all (a body that trickles in
    // is bounded by the timeout). Every answer, errors included, names the codings a body may
    // come in (`Accept-Encoding`), which is how a phone learns it may gzip its sync batches.
    .layer(tower_http::decompression::RequestDecompressionLayer::new())
    .layer(limits::json_compression())
    .layer(middleware::from_fn(limits::request_encoding))
    .layer(middleware::from_fn_with_state(state.clone(), limits::client_address))
    .layer(middleware::from_fn_with_state(state.clone(), limits::read_unread_body))
    .layer(middleware::from_fn_with_state(state.clone(), limits::bound_requests))
    .layer(PropagateRequestIdLayer::x_request_id())
    .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
    })
    // A 503 is logged where it is made (refused for load: counted once a second; the database
    // busy or unreachable: its error), not once more per request.
    .on_failure(|class: ServerErrorsFailureClass, latency: Duration, _: &tracing::Span| {
        if !matches!(class, ServerErrorsFailureClass::StatusCode(s) if s == StatusCode::SERVICE_UNAVAILABLE) {
            tracing::error!(classification = %class, latency = ?latency, "response failed");
        }
    }))
    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
    .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        header::ACCEPT_ENCODING,
        limits::ACCEPTED_ENCODINGS,
    ))
    .layer(Extension(crate::http::openapi::Document::new(doc)))
    .with_state(state)
}
