//! Random bytes: ids, delivery codes, tokens, keys, nonces, backoff jitter. All of them come
//! from one [`Randomness`], the operating system's CSPRNG unless a test seeds its own, so a
//! test run can be repeated.

use std::fmt;
use std::sync::{Arc, Mutex};

use rand_core::{CryptoRng, OsRng, RngCore, TryRngCore};

/// A cryptographically secure generator a test can hand in.
pub type Rng = Box<dyn CryptoRng + Send>;

/// A source of random bytes. Cheap to clone (shared).
#[derive(Clone)]
pub struct Randomness(Source);

#[derive(Clone)]
enum Source {
    /// The operating system's CSPRNG, asked every time (no lock).
    Os,
    /// A generator handed in (tests).
    Given(Arc<Mutex<Rng>>),
}

impl fmt::Debug for Randomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Os => f.write_str("Randomness(os)"),
            Source::Given(_) => f.write_str("Randomness(given)"),
        }
    }
}

impl Default for Randomness {
    fn default() -> Self {
        Self::os()
    }
}

impl Randomness {
    /// The operating system's CSPRNG: what a real server uses.
    pub fn os() -> Self {
        Self(Source::Os)
    }

    /// Bytes from `rng` (e.g. a seeded `rand::rngs::StdRng`, so a test can repeat a run).
    pub fn from_rng(rng: Rng) -> Self {
        Self(Source::Given(Arc::new(Mutex::new(rng))))
    }

    /// Fills `out`.
    pub fn fill(&self, out: &mut [u8]) {
        match &self.0 {
            Source::Os => OsRng
                .try_fill_bytes(out)
                .expect("the operating system's random number generator failed"),
            Source::Given(rng) => rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .fill_bytes(out),
        }
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    /// Runs `f` with a CSPRNG (for APIs that take one, like `DeliveryCode::generate`).
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn CryptoRng) -> T) -> T {
        match &self.0 {
            Source::Os => f(&mut OsRng.unwrap_err()),
            Source::Given(rng) => f(&mut **rng.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_seeded_source_repeats_and_the_os_source_does_not() {
        let a = Randomness::from_rng(Box::new(rand::rngs::StdRng::seed_from_u64(7)));
        let b = Randomness::from_rng(Box::new(rand::rngs::StdRng::seed_from_u64(7)));
        assert_eq!(a.bytes::<16>(), b.bytes::<16>());
        assert_ne!(
            Randomness::os().bytes::<16>(),
            Randomness::os().bytes::<16>()
        );
    }
}
