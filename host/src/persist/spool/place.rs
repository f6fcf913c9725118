//! A destination's place in the spool, down to the event: a record is one read of a
//! source (thousands of events), delivered in many batches by several workers, so a
//! place counted in whole records would send a record's delivered batches again after
//! a crash. [`Progress`] gathers the events each batch settled and moves the place over
//! the longest run settled from the start of the first record not settled whole. The
//! batches settled past the place ([`Ahead`]: a worker finished before another one still
//! sending an earlier batch) are kept too, so that a crash sends again only the batches
//! that were in flight.

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

/// Events `events` of record `record`, settled past the destination's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    pub record: u64,
    pub events: Range<u32>,
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
    /// Progress of a destination whose place was `place` when the spool was opened, with
    /// the events it had settled past it.
    pub fn starting_at(place: Place, ahead: &[Ahead]) -> Progress {
        let progress = Progress(Mutex::new(Settled {
            partly: BTreeMap::new(),
            furthest: place,
        }));
        if place.events > 0 {
            progress.settle(place.record, 0..place.events);
        }
        for ahead in ahead.iter().filter(|a| a.record >= place.record) {
            progress.settle(ahead.record, ahead.events.clone());
        }
        progress
    }

    fn settled(&self) -> std::sync::MutexGuard<'_, Settled> {
        self.0.lock().expect("not poisoned")
    }

    /// The events of `record` settled before it was read (by an earlier run), sorted:
    /// not handed out again.
    pub fn settled_in(&self, record: u64) -> Vec<Range<u32>> {
        self.settled()
            .partly
            .get(&record)
            .cloned()
            .unwrap_or_default()
    }

    /// Forgets what was settled of `record` (a saved claim that cannot be true).
    pub fn forget(&self, record: u64) {
        self.settled().partly.remove(&record);
    }

    /// The events settled past `place`, which the place does not say.
    pub fn ahead(&self, place: Place) -> Vec<Ahead> {
        let settled = self.settled();
        let mut ahead = Vec::new();
        for (&record, ranges) in settled.partly.range(place.record..) {
            for range in ranges {
                let start = match record == place.record {
                    true => range.start.max(place.events),
                    false => range.start,
                };
                if start < range.end {
                    ahead.push(Ahead {
                        record,
                        events: start..range.end,
                    });
                }
            }
        }
        ahead
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

    /// Events `events` of `record` are settled (a batch): the place past the furthest
    /// handed out before, if it moved, and whether the events are past the place (a
    /// batch before them still in flight), for the caller to journal.
    pub fn settle_batch(
        &self,
        record: u64,
        events: Range<u32>,
        whole: u64,
    ) -> (Option<Place>, bool) {
        self.settle(record, events.clone());
        let mut settled = self.settled();
        let place = settled.place(whole);
        let ahead = Place {
            record,
            events: events.end,
        } > place;
        let moved = (place > settled.furthest).then(|| {
            settled.furthest = place;
            place
        });
        (moved, ahead)
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

/// The events of a record handed out to a destination: those not settled before it was
/// read, as ranges of the record's events in order (a chunk's event `i` is the `i`-th
/// event they hold).
#[derive(Debug)]
pub struct Unsettled(Vec<Range<u32>>);

impl Unsettled {
    /// The events of a record of `len` events but those `settled` (sorted, merged).
    pub fn of(len: u32, settled: &[Range<u32>]) -> Unsettled {
        let mut ranges = Vec::new();
        let mut at = 0;
        for range in settled.iter().take_while(|r| r.start < len) {
            if range.start > at {
                ranges.push(at..range.start);
            }
            at = at.max(range.end);
        }
        if at < len {
            ranges.push(at..len);
        }
        Unsettled(ranges)
    }

    /// Of all the record's `events`, those handed out.
    pub fn select<T: Clone>(&self, events: &[T]) -> Vec<T> {
        self.0
            .iter()
            .flat_map(|r| &events[r.start as usize..r.end as usize])
            .cloned()
            .collect()
    }

    /// The record's events that the chunk's events `handed` are.
    pub fn in_record(&self, handed: Range<u32>) -> impl Iterator<Item = Range<u32>> + '_ {
        let mut base = 0;
        self.0.iter().filter_map(move |range| {
            let (first, len) = (base, range.end - range.start);
            base += len;
            let from = handed.start.max(first);
            let to = handed.end.min(first + len);
            (from < to).then(|| range.start + from - first..range.start + to - first)
        })
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
        let progress = Progress::starting_at(Place::at(4), &[]);
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
        let ahead = [
            Ahead {
                record: 3,
                events: 20..25,
            },
            Ahead {
                record: 5,
                events: 0..8,
            },
        ];
        let place = Place {
            record: 3,
            events: 12,
        };
        let progress = Progress::starting_at(place, &ahead);
        assert_eq!(progress.settled_in(3), [0..12, 20..25]);
        assert_eq!(progress.settled_in(4), []);
        assert_eq!(progress.ahead(place), ahead, "saved as loaded");
        // The rest of record 3, read without them, settles around them.
        let unsettled = Unsettled::of(30, &progress.settled_in(3));
        assert_eq!(
            unsettled.select(&(0..30).collect::<Vec<u32>>()),
            (12..20).chain(25..30).collect::<Vec<u32>>()
        );
        let handed: Vec<_> = unsettled.in_record(5..13).collect();
        assert_eq!(
            handed,
            [17..20, 25..30],
            "the chunk's 5..13 are the record's"
        );
        for events in handed {
            progress.settle(3, events);
        }
        assert_eq!(progress.place(3).events, 12);
        progress.settle(3, 12..17);
        assert_eq!(progress.place(3).events, 30);
    }

    #[test]
    fn a_batch_settled_past_the_place_is_said_so_and_one_that_moves_it_is_not() {
        let progress = Progress::starting_at(Place::at(2), &[]);
        assert_eq!(progress.settle_batch(2, 10..20, 2), (None, true));
        assert_eq!(
            progress.settle_batch(2, 0..10, 2),
            (
                Some(Place {
                    record: 2,
                    events: 20
                }),
                false
            )
        );
        assert_eq!(
            progress.ahead(progress.place(2)),
            [],
            "nothing past the place"
        );
    }
}
