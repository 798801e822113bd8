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

    /// What a parcel with status `status` on a stop says of it (`moved`: the parcel was moved
    /// from this stop to a later day after a failed attempt here). Unknown statuses read as
    /// still to deliver.
    pub fn of_parcel(status: &str, moved: bool) -> StopState {
        if moved {
            return StopState::Failed;
        }
        PARCEL_STATES
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(StopState::ToDeliver, |(_, state)| *state)
    }

    /// How much the state needs a person, most first: a stop shows the state of its parcel
    /// that ranks first — locked, then anything left to deliver, then returning, then failed;
    /// delivered only when every parcel is.
    pub fn rank(self) -> u8 {
        match self {
            StopState::Locked => 0,
            StopState::ToDeliver => 1,
            StopState::Returning => 2,
            StopState::Failed => 3,
            StopState::Delivered => 4,
        }
    }

    /// The state of rank `rank` ([`StopState::rank`]); a stop without parcels (`None`) is
    /// still to deliver.
    pub fn of_rank(rank: Option<u8>) -> StopState {
        StopState::ALL
            .into_iter()
            .find(|s| Some(s.rank()) == rank)
            .unwrap_or(StopState::ToDeliver)
    }

    /// A stop's state from its parcels: each parcel's status and whether it was moved away.
    pub fn of<'a>(parcels: impl IntoIterator<Item = (&'a str, bool)>) -> StopState {
        StopState::of_rank(
            parcels
                .into_iter()
                .map(|(status, moved)| StopState::of_parcel(status, moved).rank())
                .min(),
        )
    }

    /// A stop's state from the first rank of the parcels still on it (`None`: none are) and
    /// whether any parcel was moved from it to a later day (a failed attempt here).
    pub fn of_stop(here: Option<u8>, moved: bool) -> StopState {
        let moved = moved.then_some(StopState::Failed.rank());
        StopState::of_rank(here.into_iter().chain(moved).min())
    }
}

/// What each parcel status says of its stop (the store ranks them in SQL from this table).
pub const PARCEL_STATES: [(&str, StopState); 7] = [
    ("pending", StopState::ToDeliver),
    ("delivered", StopState::Delivered),
    ("failed", StopState::Failed),
    ("disputed", StopState::Failed),
    ("locked", StopState::Locked),
    ("returning", StopState::Returning),
    ("at_depot", StopState::Returning),
];

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
        assert_eq!(StopState::of([("delivered", false)]), StopState::Delivered);
        assert_eq!(
            StopState::of([("delivered", false), ("pending", false)]),
            StopState::ToDeliver
        );
        assert_eq!(
            StopState::of([("pending", false), ("locked", false)]),
            StopState::Locked
        );
        assert_eq!(
            StopState::of([("delivered", false), ("pending", true)]),
            StopState::Failed
        );
        assert_eq!(
            StopState::of([("returning", false), ("failed", false)]),
            StopState::Returning
        );
        assert_eq!(StopState::of([("at_depot", false)]), StopState::Returning);
        assert_eq!(
            StopState::of([("disputed", false), ("delivered", false)]),
            StopState::Failed
        );
        assert_eq!(StopState::of([("what", false)]), StopState::ToDeliver);
        for s in StopState::ALL {
            assert_eq!(StopState::of_rank(Some(s.rank())), s);
        }
        assert_eq!(StopState::of_stop(None, true), StopState::Failed);
        assert_eq!(StopState::of_stop(None, false), StopState::ToDeliver);
        let locked = Some(StopState::Locked.rank());
        assert_eq!(StopState::of_stop(locked, true), StopState::Locked);
        let delivered = Some(StopState::Delivered.rank());
        assert_eq!(StopState::of_stop(delivered, true), StopState::Failed);
    }

    #[test]
    fn progress_counts_each_stop_once() {
        let mut p = Progress::default();
        for s in StopState::ALL {
            p.add(s);
        }
        assert_eq!(
            p,
            Progress {
                done: 1,
                failed: 2,
                left: 2
            }
        );
    }
}
