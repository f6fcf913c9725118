//! `sluice preview`: what a module, or a destination of a configuration, makes of some
//! events, for module authors and operators; no secret is needed and nothing is sent.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::{Config, EventsConfig, FilterConfig, Policy, default_cache_dir};
use crate::deliver::FilterStage;
use crate::event::{EventMeta, Events};
use crate::module::{CallError, FormatterModule, Limits, ModuleSource, Runtime, Setup};
use crate::pipeline::{
    ChunkBuilder, Filters, Line, Origin, Parsed, line_parser, too_long, unfit_reason,
};
use crate::source::{LinePosition, LineSplitter};
use sluice_contract::answer;
use sluice_contract::types::{Compression, FormatError, FramedMessages, Request};
use sluice_reader::{Selector, Skip};

/// What to preview, as the command line says it.
#[derive(Debug, Default)]
pub struct Subject<'a> {
    /// A module by name or path, with `settings` (`--module`).
    pub module: Option<&'a str>,
    /// A filter policy file (`--filter`).
    pub filter: Option<&'a Path>,
    /// A configuration (`-c`), whose destination `destination` is previewed.
    pub config: Option<&'a Path>,
    pub destination: Option<&'a str>,
    /// `--set` settings, after the configured ones.
    pub settings: Vec<(String, String)>,
}

/// What the events go through: the policies as they are read, then what one
/// destination takes, then its module.
struct Plan {
    events: EventsConfig,
    /// The policies applied as lines are read (`[[filters]]`, or `--filter`).
    policies: Vec<Arc<Policy>>,
    /// What the destination takes of them: its own policy and the global routes.
    selector: Option<Selector>,
    /// `--filter` with `[[route]]` tables and no module: each event is printed with the
    /// destinations it goes to.
    routes: Option<Selector>,
    filter_module: Option<FilterStage>,
    module: Option<Arc<FormatterModule>>,
    /// The destination's `batch` settings; none: the module's defaults.
    batch: crate::config::BatchConfig,
    setup: Setup,
    /// Put before a setting's key in an error: where the setting was given.
    settings_at: String,
    /// The headers the host adds to each HTTP request (the credential, the secret
    /// headers), as shown: masked.
    host_headers: Vec<(String, String)>,
    /// The destination writes its `endpoint` (no setting chooses it).
    endpoint_written: bool,
}

/// The headers the host adds to each HTTP request of a module that declares `auth`,
/// masked: its credential's, in the form `destination` gives it (the module's own form
/// when there is no destination: required, or none when optional), then
/// `secret_headers`.
fn host_headers(
    auth: Option<&sluice_contract::types::AuthHeader>,
    destination: Option<&crate::config::DestinationConfig>,
) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(auth) = auth {
        let given = destination.map(|d| {
            (
                d.token.is_some(),
                d.basic_auth.is_some(),
                d.oauth2.is_some(),
                d.aws.is_some() || d.azure_shared_key.is_some(),
            )
        });
        let prefix = match given {
            None if auth.optional => None,
            None | Some((true, ..)) => Some(auth.prefix.as_str()),
            Some((_, true, ..)) => Some("Basic "),
            Some((_, _, true, _)) => Some("Bearer "),
            Some((.., true)) => Some(""),
            Some(_) if auth.optional => None,
            Some(_) => Some(auth.prefix.as_str()),
        };
        if let Some(prefix) = prefix {
            headers.push((auth.name.clone(), format!("{prefix}****")));
        }
    }
    for name in destination.iter().flat_map(|d| d.secret_headers.keys()) {
        headers.push((name.clone(), "****".into()));
    }
    headers
}

impl Plan {
    /// `--module`, `--set` and `--filter`.
    fn from_arguments(subject: Subject<'_>) -> Result<Plan> {
        let policy = match subject.filter {
            Some(path) => {
                let filter = FilterConfig {
                    name: "--filter".into(),
                    policy: path.to_owned(),
                };
                Some(Arc::new(filter.load()?))
            }
            None => None,
        };
        let routes = policy
            .clone()
            .filter(|policy| policy.routes() && subject.module.is_none())
            .and_then(|policy| {
                Selector::new("", None, [policy], EventsConfig::default().max_depth)
            });
        let module = match subject.module {
            Some(module) => {
                let source = ModuleSource::resolve(module, &[])?;
                let runtime = Runtime::new(Limits::default(), default_cache_dir())?;
                Some(runtime.load_formatter(&source)?)
            }
            None => None,
        };
        let host_headers = host_headers(
            module
                .as_ref()
                .and_then(|module| module.info().auth.as_ref()),
            None,
        );
        Ok(Plan {
            events: EventsConfig::default(),
            policies: policy.into_iter().collect(),
            selector: None,
            routes,
            filter_module: None,
            module,
            batch: Default::default(),
            setup: Setup {
                settings: subject.settings,
                enrichment: crate::pipeline::enrichment(&Default::default()),
                ..Setup::default()
            },
            settings_at: "--set ".into(),
            host_headers,
            endpoint_written: false,
        })
    }

    /// The destination of a configuration: its module, settings (`--set` after them),
    /// filter module, own policy, the global policies and routes, the `[events]` and
    /// `[limits]` settings. Secrets are not read: the credential header is shown masked,
    /// and a signature is made with a placeholder key.
    fn from_config(path: &Path, subject: Subject<'_>) -> Result<Plan> {
        let config = Config::load_unresolved(path)?;
        let names: Vec<&str> = config
            .destinations
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        let index = match subject.destination {
            Some(name) => names.iter().position(|n| *n == name).with_context(|| {
                format!(
                    "{}: no destination is named `{name}` (there are: {})",
                    path.display(),
                    names.join(", ")
                )
            })?,
            None if names.len() == 1 => 0,
            None => anyhow::bail!(
                "{}: name the destination to preview with --destination (one of: {})",
                path.display(),
                names.join(", ")
            ),
        };
        let destination = &config.destinations[index];
        let at = format!("{}: {}", path.display(), destination.location());
        let runtime = Runtime::configured(&config)?;
        let module = crate::load::load_formatter_module(&config, index, &runtime)?;
        let filter_module = crate::load::load_filter_stage(&config, destination, &runtime)
            .with_context(|| format!("{at}.filter_module"))?;
        let filters = Filters::load(&config, None)?;
        let mut settings = destination
            .settings()
            .with_context(|| format!("{at}.settings"))?;
        settings.extend(subject.settings);
        let keys = destination
            .signing_keys
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    crate::config::Secret::obtained("sluice-preview".into()),
                )
            })
            .collect();
        Ok(Plan {
            host_headers: host_headers(module.info().auth.as_ref(), Some(destination)),
            endpoint_written: destination.endpoint.is_some(),
            policies: filters.global_policies(),
            selector: filters.selector(index),
            routes: None,
            filter_module,
            module: Some(module),
            batch: destination.batch.clone(),
            setup: Setup {
                settings,
                enrichment: crate::pipeline::enrichment(&config.events.tags),
                keys: Arc::new(keys),
            },
            settings_at: format!("{at}: settings."),
            events: config.events,
        })
    }

    /// Refuses a setting the module does not declare, and names it as it was given.
    fn check_settings(&self) -> Result<()> {
        if let Some(module) = &self.module
            && let Some((key, problem)) = module.unknown_setting(&self.setup.settings)
        {
            anyhow::bail!("{}{key}: {problem}", self.settings_at);
        }
        Ok(())
    }
}

/// Reads JSON Lines on stdin as one batch and takes from it what the subject would:
/// the events the policies keep (and, for a destination, those its routes, own policy
/// and filter module let through). With a module, formats them and prints every
/// request (the credential header masked, compressed bodies shown before compression);
/// without, prints the events taken. Rejected lines, events left out, refused events
/// and events the module forgot are reported on stderr.
pub fn preview(subject: Subject<'_>) -> Result<ExitCode> {
    let plan = match subject.config {
        Some(path) => Plan::from_config(path, subject)?,
        None => Plan::from_arguments(subject)?,
    };
    // The module and its settings first: a mistake is said before stdin is read.
    plan.check_settings()?;
    if !plan.setup.keys.is_empty() {
        eprintln!("signatures below are made with a placeholder key, not the destination's");
    }
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    // Lines are split and bounded as `run` reads them.
    let parser = line_parser(&plan.events, plan.policies.clone());
    let mut dropped = 0usize;
    let mut rejected_lines = 0usize;
    let mut splitter = LineSplitter::new(plan.events.max_line_bytes);
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
                Parsed::Rejected(_, reason) => Some(reason),
                Parsed::Unfit { fields, .. } => Some(unfit_reason(&fields)),
                Parsed::Filtered { .. } => {
                    dropped += 1;
                    None
                }
                Parsed::Blank | Parsed::Event { .. } => None,
            },
            Line::TooLong { start, len } => {
                Some(too_long(len, plan.events.max_line_bytes, start.len()))
            }
        };
        if let Some(reason) = rejected {
            eprintln!("stdin:{}: rejected: {reason}", origin.line);
            rejected_lines += 1;
        }
    };
    splitter.feed(&input, &mut handle);
    splitter.finish(&mut handle);
    if !plan.policies.is_empty() {
        eprintln!(
            "the filter keeps {} events and drops {dropped}",
            chunk.events.len()
        );
    }
    if chunk.events.is_empty() && dropped == 0 {
        eprintln!("stdin held no event: nothing to show (give JSON Lines on stdin)");
    }
    let taken = taken(&plan, &chunk)?;
    let Some(module) = &plan.module else {
        let mut out = std::io::stdout().lock();
        for meta in taken {
            let json = meta.json_in(&chunk.data);
            let routed = plan
                .routes
                .as_ref()
                .map(|r| r.routed_to(json, meta.time_ms));
            match routed {
                None => writeln!(out, "{json}")?,
                Some(Some(to)) => writeln!(out, "to {}: {json}", to.join(", "))?,
                Some(None) => writeln!(out, "to every destination (no route matches): {json}")?,
            }
        }
        return Ok(outcome(rejected_lines));
    };
    // In batches as `run` makes them, each formatted on its own.
    let limits = crate::buffer::BatchLimits::configured(
        &plan.batch,
        module.info().batch,
        crate::buffer::DEFAULT_MAX_WAIT,
    );
    let mut batches = vec![Events::default()];
    for meta in taken {
        let current = batches.last().expect("one batch at least");
        if limits.full_before(current.len(), current.text.len(), meta.len as usize) {
            batches.push(Events::default());
        }
        let current = batches.last_mut().expect("one batch at least");
        current.push(meta.json_in(&chunk.data), meta);
    }
    let count = batches.len();
    for (number, events) in batches.into_iter().enumerate() {
        if count > 1 {
            println!(
                "## batch {} of {count}: {} events",
                number + 1,
                events.len()
            );
        }
        print_requests(&plan, module, &Arc::new(events))?;
    }
    Ok(outcome(rejected_lines))
}

/// As `run` says it: 3 when lines were rejected (each said on stderr), else 0.
fn outcome(rejected_lines: usize) -> ExitCode {
    match rejected_lines {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(3),
    }
}

/// The events of `chunk` the destination takes: not routed elsewhere, kept by its own
/// policy and its filter module; what it leaves out is counted on stderr.
fn taken<'c>(plan: &Plan, chunk: &'c ChunkBuilder) -> Result<Vec<&'c EventMeta>> {
    let mut routed_away = 0;
    let mut filtered = 0;
    let mut taken: Vec<&EventMeta> = Vec::new();
    for meta in &chunk.events {
        match plan
            .selector
            .as_ref()
            .and_then(|s| s.skips(meta.json_in(&chunk.data), meta.time_ms))
        {
            Some(Skip::RoutedAway) => routed_away += 1,
            Some(Skip::Filtered) => filtered += 1,
            None => taken.push(meta),
        }
    }
    if plan.selector.is_some() {
        eprintln!(
            "the destination's routes send {routed_away} events elsewhere and its own filter drops {filtered}"
        );
    }
    let Some(stage) = &plan.filter_module else {
        return Ok(taken);
    };
    let mut events = Events::default();
    for meta in &taken {
        events.push(meta.json_in(&chunk.data), meta);
    }
    let flags = stage
        .keep_once(&Arc::new(events))
        .context("the filter module")?;
    let kept: Vec<&EventMeta> = taken
        .into_iter()
        .zip(flags)
        .filter_map(|(meta, keep)| keep.then_some(meta))
        .collect();
    eprintln!(
        "the filter module `{}` keeps {} events",
        stage.module().info().name,
        kept.len()
    );
    Ok(kept)
}

/// Formats `events` with `module` as the plan configures it and prints the requests.
fn print_requests(plan: &Plan, module: &FormatterModule, events: &Arc<Events>) -> Result<()> {
    let answer = module
        .instantiate(plan.setup.clone())
        .and_then(|mut instance| instance.format(events));
    let formatted = match answer {
        Ok(Ok(formatted)) => formatted,
        Ok(Err(FormatError::InvalidSetting(problem)))
        | Err(CallError::Configure {
            error: FormatError::InvalidSetting(problem),
            ..
        }) => anyhow::bail!("{}{}: {}", plan.settings_at, problem.key, problem.problem),
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
    // Where a module's requests go, when a setting chooses it (Datadog's `site`).
    if let Some(choice) = &module.info().endpoint_choice
        && !plan.endpoint_written
    {
        let given = plan
            .setup
            .settings
            .iter()
            .rev()
            .find(|(key, _)| *key == choice.setting)
            .map(|(_, value)| value.as_str());
        let (_, shown) = crate::deliver::chosen_endpoint(module.info(), given)
            .map_err(|error| anyhow::anyhow!("{}{error:#}", plan.settings_at))?;
        writeln!(out, "### to the {shown}")?;
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
                // A module header the host sends one of its own for is not sent.
                let replaced = |name: &str| {
                    plan.host_headers
                        .iter()
                        .any(|(own, _)| own.eq_ignore_ascii_case(name))
                };
                for (name, value) in http.headers.iter().filter(|(name, _)| !replaced(name)) {
                    writeln!(out, "{name}: {value}")?;
                }
                for (name, value) in &plan.host_headers {
                    writeln!(out, "{name}: {value}")?;
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
                write_messages(&mut out, framed, text, |_| None)?;
            }
            Request::Publish(published) => {
                writeln!(
                    out,
                    "### request {} of {}: {} messages to publish",
                    number + 1,
                    formatted.requests.len(),
                    published.messages.events.len()
                )?;
                write_messages(&mut out, &published.messages, text, |position| {
                    let subject = published.subject_of.get(position)?;
                    published.subjects.get(*subject as usize)
                })?;
            }
        }
    }
    Ok(())
}

/// Each message on a line of its own, after `subject(i)` when it has one.
fn write_messages<'a>(
    out: &mut impl Write,
    framed: &FramedMessages,
    text: &[u8],
    subject: impl Fn(usize) -> Option<&'a String>,
) -> std::io::Result<()> {
    let messages = framed.messages.view().assemble(text);
    let mut start = 0;
    for (position, &end) in framed.message_ends.iter().enumerate() {
        if let Some(subject) = subject(position) {
            write!(out, "{subject}: ")?;
        }
        out.write_all(messages.get(start..end as usize).unwrap_or_default())?;
        writeln!(out)?;
        start = end as usize;
    }
    Ok(())
}
