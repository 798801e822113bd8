//! A fault-injecting TCP proxy between the device and the server, for network fault tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// What the proxy does with new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards both ways.
    Pass,
    /// Accepts and closes at once: the device sees the connection die before any answer.
    Drop,
    /// Accepts and never answers: the device's timeout has to fire.
    Hang,
    /// Forwards the request, lets the server answer (so it has committed), then cuts the
    /// connection before a single byte of the answer reaches the device.
    CutAnswer,
}

/// The proxy. Changing the fault closes every open connection, so pooled keep-alive
/// connections cannot slip past the new fault.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    fault: Mutex<Fault>,
    open: Mutex<Vec<AbortHandle>>,
    cut: AtomicUsize,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            fault: Mutex::new(Fault::Pass),
            open: Mutex::new(Vec::new()),
            cut: AtomicUsize::new(0),
        });
        let accept_state = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let fault = *accept_state.fault.lock().unwrap();
                let conn_state = accept_state.clone();
                let task = tokio::spawn(async move {
                    handle(client, upstream, fault, &conn_state).await;
                });
                accept_state.open.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            state,
            accept,
        }
    }

    /// The URL the device should use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the fault for new connections and closes the open ones.
    pub fn set(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
        for conn in self.state.open.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    /// How many answers were cut so far.
    pub fn answers_cut(&self) -> usize {
        self.state.cut.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(Fault::Drop);
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault, state: &State) {
    match fault {
        Fault::Drop => drop(client),
        Fault::Hang => {
            let mut buf = [0u8; 4096];
            while let Ok(n) = client.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            std::future::pending::<()>().await;
        }
        Fault::Pass => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
        Fault::CutAnswer => {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut client_read, _client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let upload = tokio::spawn(async move {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match client_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            let mut first = [0u8; 1];
            if let Ok(n) = server_read.read(&mut first).await
                && n > 0
            {
                state.cut.fetch_add(1, Ordering::SeqCst);
            }
            upload.abort();
            // Dropping both halves closes the device's connection with no answer.
        }
    }
}
