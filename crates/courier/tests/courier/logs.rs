//! Every log line of the core and the server during the tests is captured, so a test can check
//! that no delivery code or token ever reaches a log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per test binary), at trace level for Doorstep's
/// crates.
pub fn capture() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter("doorstep_courier=trace,doorstep_server=trace")
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .init();
        buffer
    });
}

/// Everything logged so far by every test of this binary.
pub fn captured() -> String {
    let buffer = LOGS.get().expect("capture() was called");
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}
