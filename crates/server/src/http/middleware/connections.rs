//! The connections themselves: how many may be open, how many one address may hold, and how
//! long a client may take to send a request's headers.
//!
//! - At most `max_connections` open at once; more wait in the kernel's accept queue.
//! - One client address (an IPv6 client by its /64) holds at most `connections_per_address`
//!   of them; a connection beyond its share is answered `503` with `Retry-After` and closed,
//!   so one address opening hundreds of connections cannot take the slots of the fleet's
//!   phones. Behind a reverse proxy (`trust_forwarded_for`) every connection comes from the
//!   proxy, so there is no share: the proxy limits its clients.
//! - A connection that has not sent a request's complete headers `header_read_timeout` after
//!   it opened, or after its last answer went out, is closed: a client sending its headers a
//!   byte at a time, or an idle keep-alive connection, does not hold its slot for ever. (A
//!   slow body is bounded by the request timeout, [`super::limits::bound_requests`].)
//!
//! Each connection is served by hyper's HTTP/1 server with those settings (axum's own
//! `serve` has no header timeout); on shutdown no new connection is taken, and the open ones
//! finish the request they are on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use doorstep_protocol::wire::{ErrorBody, ErrorCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::limits::ClientIp;

/// What the listener holds each connection to.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRules {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections one client address may hold; `None`: no share (behind a proxy).
    pub per_address: Option<usize>,
    /// How long a client may take to send a request's headers (from the connection's start
    /// or its last answer).
    pub header_read_timeout: Duration,
}

/// How many connections each client address holds now.
#[derive(Debug, Default)]
struct Shares(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in its address's share; given back when the connection closes.
#[derive(Debug)]
struct Share {
    shares: Arc<Shares>,
    key: IpAddr,
}

impl Shares {
    /// A place for a connection from `ip`, if its address holds fewer than `max`.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Share> {
        let key = ClientIp::key(ip);
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Share {
            shares: self.clone(),
            key,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// The answer to a connection beyond its address's share, written before anything of the
/// request is read (it never reaches the router): the API's error body, `503` with
/// `Retry-After`.
static OVER_SHARE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let body = serde_json::to_string(&ErrorBody {
        code: ErrorCode::Unavailable,
        message: "too many connections from your address; close some, or retry in a few seconds"
            .into(),
    })
    .expect("an error body serializes");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Retry-After: 5\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
});

/// Answers a connection beyond its share and closes it. What the client already sent is
/// read (briefly, a little) first, so that it reads the answer instead of a reset.
async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(OVER_SHARE.as_bytes()).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// Serves `app` on `listener` under `rules` until `shutdown` completes; then waits for the
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    rules: ConnectionRules,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(rules.max_connections.max(1)));
    let shares = Arc::new(Shares::default());
    // Changed when shutdown begins; each connection task holds a receiver until it ends.
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(rules.header_read_timeout)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum's serve does.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let share = match rules.per_address {
            None => None,
            Some(max) => match shares.take(peer.ip(), max) {
                Some(share) => Some(share),
                None => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(slot);
                    });
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: axum::http::Request<_>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            });
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop((slot, share, stop));
        });
    }
    drop(stop_rx);
    // Every connection task sees the value change, finishes the request it is on (an idle
    // one closes at once) and drops its receiver; `closed` returns when the last one has.
    let _ = stop_tx.send(());
    drop(listener);
    stop_tx.closed().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_back_when_a_connection_closes() {
        let shares = Arc::new(Shares::default());
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let a = shares.take(ip, 2).unwrap();
        let _b = shares.take(ip, 2).unwrap();
        assert!(shares.take(ip, 2).is_none());
        assert!(shares.take("127.0.0.3".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(shares.take(ip, 2).is_some());
    }
}
