//! Time and randomness, the two things a rule reads from outside itself.
//!
//! The device core and the dispatch server take both as values ([`Clock`], [`Randomness`]),
//! never from `SystemTime::now()` or a global generator, so a test can stand the clock still,
//! move it past an expiry, or repeat a run from a seed. One crate, so both programs use the
//! same types with the same method names.

mod clock;
mod random;

pub use clock::{Clock, ManualClock, SystemClock};
pub use random::{Randomness, Rng};
