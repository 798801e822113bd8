//! Sync batches travel gzipped to a server that says it takes them (`Accept-Encoding: gzip` on
//! its answers), and as plain JSON to one that does not, through a gateway that can play an
//! older server in front of the real one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::helpers::*;

/// Forwards everything to the real server. As an older server (`old`), it leaves
/// `Accept-Encoding` out of its answers and refuses a gzipped body as the unreadable JSON it
/// is to such a server (400). Counts the sync requests by their coding.
#[derive(Debug)]
struct Gateway {
    url: String,
    state: Arc<GatewayState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct GatewayState {
    upstream: String,
    client: reqwest::Client,
    old: AtomicBool,
    gzipped_syncs: AtomicUsize,
    plain_syncs: AtomicUsize,
}

impl Gateway {
    async fn start(upstream: String) -> Self {
        let state = Arc::new(GatewayState {
            upstream,
            // Passes compressed answers through as they are.
            client: reqwest::Client::builder().no_gzip().build().unwrap(),
            old: AtomicBool::new(false),
            gzipped_syncs: AtomicUsize::new(0),
            plain_syncs: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, task }
    }

    fn play_an_older_server(&self) {
        self.state.old.store(true, Ordering::SeqCst);
    }

    fn syncs(&self) -> (usize, usize) {
        (
            self.state.gzipped_syncs.load(Ordering::SeqCst),
            self.state.plain_syncs.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Headers that belong to one hop, not to the request or answer.
fn end_to_end(name: &HeaderName) -> bool {
    ![
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ]
    .contains(name)
}

async fn forward(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    let old = state.old.load(Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let gzipped = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    if parts.uri.path() == "/v1/sync" {
        let counter = if gzipped {
            &state.gzipped_syncs
        } else {
            &state.plain_syncs
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
    if old && gzipped {
        let error =
            r#"{"code":"bad_request","message":"the body is not valid JSON (line 1 column 1)"}"#;
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            error,
        )
            .into_response();
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = state
        .client
        .request(parts.method, format!("{}{path}", state.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        // An older server compressed no answers either.
        if end_to_end(name) && !(old && name == header::ACCEPT_ENCODING) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if end_to_end(name) && !(old && name == header::ACCEPT_ENCODING) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}

/// Commits a failed attempt for each of the first `n` parcels of the route.
async fn commit_failed_attempts(server: &TestServer, device: &doorstep_courier::Device, n: usize) {
    for p in server.seed.parcels.iter().take(n) {
        record_not_home(device, &p.barcode).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_gzips_its_batches_for_a_server_that_takes_gzip() {
    let server = spawn_server().await;
    let gateway = Gateway::start(server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    config.batch_max_events = 2;
    let device = enrolled_device(&server, &gateway.url, dir.path(), config).await;
    commit_failed_attempts(&server, &device, 5).await;

    let report = device.sync_once().await.unwrap();
    assert_eq!((report.synced, report.disputed), (5, 0));
    assert_eq!(gateway.syncs(), (3, 0), "(gzipped, plain) sync requests");
    assert_eq!(server.event_ids().await, committed_ids(&device));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sends_plain_json_to_an_older_server() {
    let server = spawn_server().await;
    let gateway = Gateway::start(server.url()).await;
    gateway.play_an_older_server();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &gateway.url, dir.path(), config).await;
    commit_failed_attempts(&server, &device, 3).await;

    let report = device.sync_once().await.unwrap();
    assert_eq!((report.synced, report.disputed), (3, 0));
    assert_eq!(gateway.syncs(), (0, 1), "(gzipped, plain) sync requests");
    assert_eq!(server.event_ids().await, committed_ids(&device));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_an_older_server_could_not_read_is_sent_again_as_plain_json_and_stored_once() {
    let server = spawn_server().await;
    let gateway = Gateway::start(server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.background_sync = false;
    let device = enrolled_device(&server, &gateway.url, dir.path(), config).await;
    commit_failed_attempts(&server, &device, 3).await;
    // The server was replaced by an older one after the device last heard from it.
    gateway.play_an_older_server();

    let report = device.sync_once().await.unwrap();
    assert_eq!((report.synced, report.disputed), (3, 0));
    assert_eq!(gateway.syncs(), (1, 1), "(gzipped, plain) sync requests");
    assert_eq!(server.event_ids().await, committed_ids(&device));

    // And the next batch goes plain from the start.
    commit_failed_attempts(&server, &device, 1).await;
    device.sync_once().await.unwrap();
    assert_eq!(gateway.syncs(), (1, 2));
}
