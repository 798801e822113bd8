//! A delivery day as the fleet sees it: each stop's state from its parcels, and each courier's
//! progress from their stops.

/// Where a stop stands today (the map's colours and the lists' words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopState {
    /// Some parcel still to hand over.
    ToDeliver,
    /// Every parcel handed over.
    Delivered,
    /// An attempt failed (the parcel moved to another day, refused, or in dispute).
    Failed,
    /// Locked by wrong codes: the customer needs a new code.
    Locked,
    /// On its way back to the depot (or back there).
    Returning,
}

impl StopState {
    /// Every state, in the legend's order.
    pub const ALL: [StopState; 5] = [
        StopState::ToDeliver,
        StopState::Delivered,
        StopState::Failed,
        StopState::Locked,
        StopState::Returning,
    ];

    /// The state's name in data (JSON, CSS classes): `to_deliver`, `delivered`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            StopState::ToDeliver => "to_deliver",
            StopState::Delivered => "delivered",
            StopState::Failed => "failed",
            StopState::Locked => "locked",
            StopState::Returning => "returning",
        }
    }

    /// The state in words.
    pub fn words(self) -> &'static str {
        match self {
            StopState::ToDeliver => "to deliver",
            StopState::Delivered => "delivered",
            StopState::Failed => "failed",
            StopState::Locked => "locked",
            StopState::Returning => "returning",
        }
    }

    /// A stop's state from its parcels: each parcel's status and whether it is still on this
    /// stop (`false`: moved to a later day after a failed attempt here). What needs a person
    /// wins: locked, then anything left to deliver, then returning, then failed; delivered only
    /// when every parcel is. A stop without parcels is still to deliver.
    pub fn of<'a>(parcels: impl IntoIterator<Item = (&'a str, bool)>) -> StopState {
        let mut state = None::<StopState>;
        for (status, here) in parcels {
            let s = if !here {
                StopState::Failed
            } else {
                match status {
                    "delivered" => StopState::Delivered,
                    "failed" | "disputed" => StopState::Failed,
                    "locked" => StopState::Locked,
                    "returning" | "at_depot" => StopState::Returning,
                    _ => StopState::ToDeliver,
                }
            };
            state = Some(match state {
                None => s,
                Some(t) => worse(s, t),
            });
        }
        state.unwrap_or(StopState::ToDeliver)
    }
}

/// Of two parcels' states, the one the stop shows.
fn worse(a: StopState, b: StopState) -> StopState {
    let rank = |s: StopState| match s {
        StopState::Locked => 0,
        StopState::ToDeliver => 1,
        StopState::Returning => 2,
        StopState::Failed => 3,
        StopState::Delivered => 4,
    };
    if rank(a) <= rank(b) { a } else { b }
}

/// A courier's stops of the day by how far they got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Delivered.
    pub done: usize,
    /// Failed or returning.
    pub failed: usize,
    /// To deliver or locked.
    pub left: usize,
}

impl Progress {
    /// Counts one stop.
    pub fn add(&mut self, state: StopState) {
        match state {
            StopState::Delivered => self.done += 1,
            StopState::Failed | StopState::Returning => self.failed += 1,
            StopState::ToDeliver | StopState::Locked => self.left += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_shows_what_needs_a_person_first() {
        assert_eq!(StopState::of([]), StopState::ToDeliver);
        assert_eq!(StopState::of([("delivered", true)]), StopState::Delivered);
        assert_eq!(StopState::of([("delivered", true), ("pending", true)]), StopState::ToDeliver);
        assert_eq!(StopState::of([("pending", true), ("locked", true)]), StopState::Locked);
        assert_eq!(StopState::of([("delivered", true), ("pending", false)]), StopState::Failed);
        assert_eq!(StopState::of([("returning", true), ("failed", true)]), StopState::Returning);
        assert_eq!(StopState::of([("at_depot", true)]), StopState::Returning);
        assert_eq!(StopState::of([("disputed", true), ("delivered", true)]), StopState::Failed);
    }

    #[test]
    fn progress_counts_each_stop_once() {
        let mut p = Progress::default();
        for s in StopState::ALL {
            p.add(s);
        }
        assert_eq!(p, Progress { done: 1, failed: 2, left: 2 });
    }
}
