//! A filter module that misbehaves as its `mode` setting says, for the sandbox tests:
//! `odd` keeps the events whose `n` is odd (a filter that works); `loop` never returns;
//! `alloc` grows memory without end; `trap` panics. Each only on events with an `n`: the
//! host's trial event at load has none, so the module loads and misbehaves later.

use sluice_guest::filter::{Filter, FilterInfo};
use sluice_guest::{Event, FormatError, SettingDoc, Settings};

pub struct Misbehave {
    mode: String,
}

impl Filter for Misbehave {
    fn info() -> FilterInfo {
        let settings = vec![SettingDoc::new("mode", "how to misbehave", Some("odd"))];
        FilterInfo::new("misbehave-filter", "0.0.1", settings)
    }

    fn new(settings: &Settings) -> Result<Self, FormatError> {
        let mode = settings.text("mode").unwrap_or_default();
        Ok(Misbehave { mode })
    }

    fn keep(&self, event: &Event<'_>) -> bool {
        let Some(n) = event.field("n").and_then(|n| n.as_u64()) else {
            return true;
        };
        match self.mode.as_str() {
            "loop" => loop {
                std::hint::black_box(n);
            },
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("misbehave-filter: trap on purpose"),
            _ => n % 2 == 1,
        }
    }
}

sluice_guest::export_filter!(Misbehave);
