//! The TOML configuration loader on arbitrary text: it never panics or hangs, and
//! every error names the file. What it accepts is a configuration `run` can start
//! from: at least one source and one destination, unique names, each source routed.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sluice_config::Config;

fuzz_target!(|text: &str| {
    let path = Path::new("/fuzz/sluice.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            assert!(!config.sources.is_empty() && !config.destinations.is_empty());
            assert!(config.routes().iter().all(|routes| !routes.is_empty()));
            let mut names: Vec<&str> = config
                .destinations
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            names.sort_unstable();
            assert!(names.windows(2).all(|pair| pair[0] != pair[1]));
        }
        Err(error) => {
            let message = format!("{error:#}");
            assert!(message.contains("/fuzz/sluice.toml"), "{message}");
        }
    }
});
