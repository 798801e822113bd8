//! The console's static files and the operator's map tiles.
//!
//! The style sheet, the scripts (ours and the vendored MapLibre, PMTiles and uPlot) and the world
//! basemap are embedded at compile time from `crates/server/assets/` (built from `ui/console/`
//! by `npm run build:console --prefix ui`, and committed), so the server stays one binary and
//! `cargo build` needs no Node. They are served at `/assets/NAME` with an ETag and an hour's
//! cache; gzip is the router's. The map tiles (`--map-tiles`) are a file served with Range
//! requests at `/map/tiles.pmtiles`: public, like any basemap.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::http::AppState;

macro_rules! asset {
    ($name:literal, $type:literal) => {
        (
            $name,
            $type,
            include_bytes!(concat!("../../assets/", $name)).as_slice(),
        )
    };
}

/// Every embedded file: its name under `/assets/`, its type and its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("customer.css", "text/css; charset=utf-8"),
    asset!("console/customer.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("console/today.js", "text/javascript; charset=utf-8"),
    asset!("console/numbers.js", "text/javascript; charset=utf-8"),
    asset!(
        "console/maplibre-gl-csp.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "console/maplibre-gl-csp-worker.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("console/maplibre-gl.css", "text/css; charset=utf-8"),
    asset!("console/pmtiles.js", "text/javascript; charset=utf-8"),
    asset!(
        "console/uPlot.iife.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("console/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("console/world-land.geojson", "application/geo+json"),
];

/// Each asset's ETag (its SHA-256, shortened), worked out once.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, bytes)| {
            let tag = format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..20]);
            HeaderValue::from_str(&tag).expect("hex in quotes is a header value")
        })
        .collect()
});

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{*name}", get(asset))
        .route("/map/tiles.pmtiles", get(map_tiles))
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let (_, content_type, bytes) = ASSETS[i];
    let etag = &ETAGS[i];
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().as_bytes() == etag.as_bytes()));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bytes,
    )
        .into_response()
}

/// `GET /map/tiles.pmtiles`: the operator's tiles, with Range requests (a PMTiles reader asks
/// for the parts it needs). A 404 that says how to add them when there are none.
async fn map_tiles(State(state): State<AppState>, req: Request) -> Response {
    let Some(file) = state.config.map_tiles.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "this server has no map tiles: start it with --map-tiles FILE.pmtiles",
        )
            .into_response();
    };
    let mut res = match tower_http::services::ServeFile::new(&file)
        .oneshot(req)
        .await
    {
        Ok(r) => r.map(Body::new),
        Err(e) => match e {},
    };
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
