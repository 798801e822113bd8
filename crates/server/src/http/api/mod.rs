//! The JSON API under `/v1` and `/.well-known`, one module per resource. Handlers extract,
//! call one store operation on a blocking thread, and map the result.

mod admin;
mod codes;
mod dev;
mod devices;
mod input;
mod parcels;
mod public;
pub(crate) mod releases;
mod sync;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::middleware::limits;

/// The JSON API under `/v1` and `/.well-known`. Each route is registered from its handler's
/// `#[utoipa::path]` (`routes!`), so the OpenAPI document describes exactly what is served;
/// the HTML pages are added by [`router`].
pub(crate) fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let verify = OpenApiRouter::new()
        .routes(routes!(codes::verify))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_verify,
        ));
    let photos = OpenApiRouter::new()
        .routes(routes!(sync::put_photo))
        .layer(DefaultBodyLimit::max(state.config.max_photo_bytes));
    OpenApiRouter::with_openapi(crate::http::openapi::ApiDoc::openapi())
        .routes(routes!(public::health))
        .routes(routes!(crate::http::openapi::serve))
        .routes(routes!(public::keys))
        .routes(
            routes!(devices::enroll).layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_enroll,
            )),
        )
        .routes(routes!(devices::manifest))
        .routes(routes!(codes::resend))
        .routes(routes!(sync::sync))
        .routes(routes!(parcels::create_parcel))
        .routes(routes!(parcels::get_parcel))
        .routes(routes!(admin::admin_courier))
        .routes(routes!(admin::admin_shipper))
        .routes(routes!(admin::admin_enrollment))
        .routes(routes!(admin::admin_devices))
        .routes(routes!(admin::admin_revoke))
        .routes(routes!(admin::admin_accept_chain))
        .routes(routes!(admin::admin_deliveries))
        .routes(routes!(admin::admin_outbox))
        .routes(routes!(admin::admin_parcel))
        .routes(routes!(admin::admin_new_code))
        .routes(routes!(dev::dev_outbox))
        .merge(verify)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .merge(photos)
        .merge(releases::api_routes(state))
}
