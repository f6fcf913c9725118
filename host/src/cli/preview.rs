//! `sluice preview`: what a module makes of some events, for module authors.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::config::default_cache_dir;
use crate::event::Events;
use crate::module::{CallError, Limits, ModuleSource, Runtime, Setup};
use crate::pipeline::{ChunkBuilder, Line, Origin, Parsed, line_parser, too_long};
use crate::source::{LinePosition, LineSplitter};
use sluice_contract::answer;
use sluice_contract::types::{Compression, FormatError, Request};

/// Reads JSON Lines on stdin as one batch, keeps what the `filter` policy keeps (all
/// without one), formats it with `module` and prints every request (the credential
/// header shown masked, compressed bodies shown before compression); without a module,
/// prints the events kept. Rejected lines, events the filter drops, refused events and
/// events the module forgot are reported on stderr.
pub fn preview(
    module: Option<&str>,
    filter: Option<&std::path::Path>,
    settings: Vec<(String, String)>,
) -> Result<ExitCode> {
    let filters = match filter {
        Some(path) => {
            let filter = crate::config::FilterConfig {
                name: path.display().to_string(),
                policy: path.to_owned(),
            };
            vec![std::sync::Arc::new(filter.load()?)]
        }
        None => Vec::new(),
    };
    // The module first: a wrong name or setting is said before stdin is read.
    let module = match module {
        Some(module) => {
            let source = ModuleSource::resolve(module, &[])?;
            let runtime = Runtime::new(Limits::default(), default_cache_dir())?;
            let module = runtime.load_formatter(&source)?;
            if let Some((key, problem)) = module.unknown_setting(&settings) {
                anyhow::bail!("--set {key}: {problem}");
            }
            Some(module)
        }
        None => None,
    };
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    // Lines are split and bounded as `run` reads them.
    let events_config = crate::config::EventsConfig::default();
    let parser = line_parser(&events_config, filters);
    let mut dropped = 0usize;
    let mut splitter = LineSplitter::new(events_config.max_line_bytes);
    let mut chunk = ChunkBuilder::default();
    let now = jiff::Timestamp::now().as_millisecond();
    let mut handle = |position: LinePosition, line: Line<'_>| {
        let origin = Origin {
            name: "stdin",
            stream: crate::pipeline::stdin_stream(),
            line: position.number,
            offset: position.offset,
        };
        let rejected = match line {
            Line::Complete(bytes) => match parser.parse(bytes, origin.id_seed(), now, &mut chunk) {
                Parsed::Rejected(reason) => Some(reason),
                Parsed::Filtered(_) => {
                    dropped += 1;
                    None
                }
                Parsed::Blank | Parsed::Event { .. } => None,
            },
            Line::TooLong { start, len } => {
                Some(too_long(len, events_config.max_line_bytes, start.len()))
            }
        };
        if let Some(reason) = rejected {
            eprintln!("stdin:{}: rejected: {reason}", origin.line);
        }
    };
    splitter.feed(&input, &mut handle);
    splitter.finish(&mut handle);
    if filter.is_some() {
        eprintln!(
            "the filter keeps {} events and drops {dropped}",
            chunk.events.len()
        );
    }
    let Some(module) = module else {
        let mut out = std::io::stdout().lock();
        for meta in &chunk.events {
            writeln!(out, "{}", meta.json_in(&chunk.data))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let info = module.info().clone();
    let mut events = Events::default();
    for meta in &chunk.events {
        events.push(meta.json_in(&chunk.data), meta);
    }
    let events = std::sync::Arc::new(events);
    let setup = Setup {
        settings,
        enrichment: crate::pipeline::enrichment(&Default::default()),
        ..Setup::default()
    };
    let answer = module
        .instantiate(setup)
        .and_then(|mut instance| instance.format(&events));
    let formatted = match answer {
        Ok(Ok(formatted)) => formatted,
        Ok(Err(FormatError::InvalidSetting(problem)))
        | Err(CallError::Configure {
            error: FormatError::InvalidSetting(problem),
            ..
        }) => anyhow::bail!("--set {}: {}", problem.key, problem.problem),
        Ok(Err(FormatError::Failed(reason))) => anyhow::bail!("the module failed: {reason}"),
        Err(error) => return Err(error.into()),
    };
    let text = events.text.as_bytes();
    let mut out = std::io::stdout().lock();
    for refusal in &formatted.refused {
        eprintln!("event {}: refused: {}", refusal.event, refusal.reason);
    }
    for event in answer::forgotten(&formatted, events.len()) {
        eprintln!("event {event}: neither sent nor refused (`run` dead-letters it)");
    }
    for (number, request) in formatted.requests.iter().enumerate() {
        match request {
            Request::Http(http) => {
                writeln!(
                    out,
                    "### request {} of {}: {} events",
                    number + 1,
                    formatted.requests.len(),
                    http.events.len()
                )?;
                writeln!(out, "{} {} HTTP/1.1", http.method, http.path)?;
                for (name, value) in &http.headers {
                    writeln!(out, "{name}: {value}")?;
                }
                if let Some(auth) = &info.auth {
                    writeln!(out, "{}: {}****", auth.name, auth.prefix)?;
                }
                if http.compression == Compression::Gzip {
                    writeln!(
                        out,
                        "Content-Encoding: gzip   (applied by the host; body shown uncompressed)"
                    )?;
                }
                writeln!(out)?;
                out.write_all(&http.body.view().assemble(text))?;
                writeln!(out)?;
            }
            Request::Messages(framed) => {
                writeln!(
                    out,
                    "### request {} of {}: {} messages",
                    number + 1,
                    formatted.requests.len(),
                    framed.events.len()
                )?;
                let messages = framed.messages.view().assemble(text);
                let mut start = 0;
                for &end in &framed.message_ends {
                    out.write_all(messages.get(start..end as usize).unwrap_or_default())?;
                    writeln!(out)?;
                    start = end as usize;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
