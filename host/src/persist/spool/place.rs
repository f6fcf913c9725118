//! A destination's place in the spool, down to the event: a record is one read of a
//! source (thousands of events), delivered in many batches by several workers, so a
//! place counted in whole records would send a record's delivered batches again after
//! a crash. [`Progress`] gathers the events each batch settled and moves the place over
//! the longest run settled from the start of the first record not settled whole.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;

/// Every record before `record` is settled, and the first `events` events of `record`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub record: u64,
    pub events: u32,
}

impl Place {
    /// Before the first event of `record`.
    pub fn at(record: u64) -> Place {
        Place { record, events: 0 }
    }
}

/// The events a destination settled of the records it has not settled whole.
#[derive(Debug, Default)]
pub struct Progress(Mutex<Settled>);

#[derive(Debug, Default)]
struct Settled {
    /// Record -> the events settled, as ranges kept sorted and merged.
    partly: BTreeMap<u64, Vec<Range<u32>>>,
    /// The furthest place handed out to be journaled: places only move forward.
    furthest: Place,
}

impl Progress {
    /// Progress of a destination whose place was `place` when the spool was opened.
    pub fn starting_at(place: Place) -> Progress {
        let mut settled = Settled {
            partly: BTreeMap::new(),
            furthest: place,
        };
        if place.events > 0 {
            let settled_before = 0..place.events;
            settled
                .partly
                .insert(place.record, Vec::from([settled_before]));
        }
        Progress(Mutex::new(settled))
    }

    fn settled(&self) -> std::sync::MutexGuard<'_, Settled> {
        self.0.lock().expect("not poisoned")
    }

    /// The events at the start of `record` settled before it was read (by an earlier
    /// run): not handed out again.
    pub fn settled_at_start_of(&self, record: u64) -> u32 {
        self.settled()
            .partly
            .get(&record)
            .map_or(0, |ranges| leading(ranges))
    }

    /// Events `events` of `record` are settled.
    pub fn settle(&self, record: u64, events: Range<u32>) {
        let mut settled = self.settled();
        let ranges = settled.partly.entry(record).or_default();
        let at = ranges.partition_point(|r| r.start < events.start);
        ranges.insert(at, events);
        // Merged with their neighbours: a record's ranges stay a handful.
        let mut merged: Vec<Range<u32>> = Vec::with_capacity(ranges.len());
        for range in ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        *ranges = merged;
    }

    /// Where the destination is, given that every record before `whole` is settled.
    pub fn place(&self, whole: u64) -> Place {
        self.settled().place(whole)
    }

    /// The place past the furthest handed out before, if it moved: the caller journals it.
    pub fn moved(&self, whole: u64) -> Option<Place> {
        let mut settled = self.settled();
        let place = settled.place(whole);
        (place > settled.furthest).then(|| {
            settled.furthest = place;
            place
        })
    }
}

impl Settled {
    /// The place after the records before `whole` (forgotten here: settled whole) and
    /// the events settled from the start of `whole`.
    fn place(&mut self, whole: u64) -> Place {
        self.partly = self.partly.split_off(&whole);
        let events = self.partly.get(&whole).map_or(0, |ranges| leading(ranges));
        Place {
            record: whole,
            events,
        }
    }
}

/// The events settled from a record's first without a gap.
fn leading(ranges: &[Range<u32>]) -> u32 {
    ranges.first().filter(|r| r.start == 0).map_or(0, |r| r.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_moves_over_events_settled_from_the_records_start_without_a_gap() {
        let progress = Progress::starting_at(Place::at(4));
        progress.settle(4, 10..20);
        assert_eq!(progress.moved(4), None, "events 0..10 are not settled");
        progress.settle(4, 0..10);
        assert_eq!(
            progress.moved(4),
            Some(Place {
                record: 4,
                events: 20
            })
        );
        progress.settle(5, 0..7);
        assert_eq!(progress.moved(4), None, "record 4 is not settled whole");
        assert_eq!(
            progress.moved(5),
            Some(Place {
                record: 5,
                events: 7
            })
        );
        assert_eq!(progress.moved(6), Some(Place::at(6)));
        assert_eq!(progress.moved(5), None, "a place never moves back");
    }

    #[test]
    fn events_settled_by_an_earlier_run_are_not_handed_out_again() {
        let progress = Progress::starting_at(Place {
            record: 3,
            events: 12,
        });
        assert_eq!(progress.settled_at_start_of(3), 12);
        assert_eq!(progress.settled_at_start_of(4), 0);
        // The rest of the record, read without them, settles after them.
        progress.settle(3, 12..30);
        assert_eq!(progress.place(3).events, 30);
    }
}
