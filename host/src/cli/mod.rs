//! The command line: `run`, `check` and `preview`.

mod dlq;
mod export;
mod preview;
mod progress;
mod scaffold;
mod status;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, SourceConfig};
use crate::dead_letter::DeadLetter;
use crate::metrics::Counters;
use crate::module::Runtime;

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version = crate::build_info::LONG_VERSION,
    about = "Ships audit logs to SIEMs through sandboxed WebAssembly modules"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the configured sources and deliver to every destination until the inputs
    /// end (files read once, stdin closed) or SIGTERM/Ctrl-C.
    #[command(
        after_help = "Exit codes:\n  0  every event read was delivered to every destination\n  1  events were abandoned at the shutdown deadline (shutdown_timeout)\n  2  an error: the configuration was refused, or a source or delivery task failed\n  3  finished, but lines were rejected, events dead-lettered or dropped (when_full),\n     input files not read, spool records lost,\n     or the last checkpoints not written\n     (see the dead-letter store and the log)"
    )]
    Run {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Validate the configuration and load every module; exit code 0 when all is well.
    Check {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Also reach every destination and test its credential, without sending an
        /// event (the module's connection check: for Splunk HEC, an empty request).
        #[arg(long)]
        connect: bool,
    },
    /// About the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the completion script of a shell, for example
    /// `sluice completions bash > /etc/bash_completion.d/sluice`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// List the modules the configuration loads: name, version, contract, SHA-256,
    /// where each comes from, and the destinations that use it.
    Modules {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// A running host's figures, per destination, from its admin listener (`[admin]`).
    Status {
        /// The running host's configuration: its `[admin]` listener and token.
        #[arg(
            short,
            long,
            required_unless_present = "admin",
            conflicts_with = "admin"
        )]
        config: Option<PathBuf>,
        /// The admin listener's URL (`http://127.0.0.1:9464`); its token, if it has one,
        /// in the environment variable SLUICE_ADMIN_TOKEN.
        #[arg(long, value_name = "URL")]
        admin: Option<String>,
        /// Refresh every second, with the rates in and out.
        #[arg(long)]
        watch: bool,
    },
    /// Write a new module, as a crate to build into a `.wasm`.
    Module {
        #[command(subcommand)]
        command: ModuleCommand,
    },
    /// Look at the dead-letter store, or send its events again.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Export the events of a time range (by each event's own time) from the files of the
    /// configured file sources, rotated and gzip or zstd compressed ones included: to a
    /// destination, or to a file in a format. Interrupted, it goes on with `--resume`.
    #[command(
        after_help = "Exit codes:\n  0  every event in the range that the policies keep was exported\n  1  stopped before the end (Ctrl-C, SIGTERM, events abandoned): --resume goes on\n  2  an error\n  3  finished, but lines were rejected or events dead-lettered (see the dead-letter store)"
    )]
    #[command(group = clap::ArgGroup::new("target").required(true).args(["destination", "output"]))]
    Export {
        /// Configuration file (TOML): its sources' files, its policies, its destinations.
        #[arg(short, long)]
        config: PathBuf,
        /// The range's start, included: RFC 3339 (2026-12-01T00:00:00Z) or a span back
        /// from now (-7d).
        #[arg(long, allow_hyphen_values = true)]
        from: String,
        /// The range's end, excluded (as --from).
        #[arg(long, allow_hyphen_values = true)]
        to: String,
        /// A policy file: only the events it keeps (after the configuration's [[filters]]).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Only this file source's files (by its name); repeatable.
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// Send to this destination of the configuration, as `run` would.
        #[arg(long, value_name = "NAME")]
        destination: Option<String>,
        /// Write to this file (made new; 0600) in --format.
        #[arg(long, value_name = "PATH", requires = "format")]
        output: Option<PathBuf>,
        #[arg(long, value_enum, requires = "output")]
        format: Option<export::Format>,
        /// A setting of the format's module, `key=value` (`columns=...` for csv); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting, requires = "output")]
        settings: Vec<(String, String)>,
        /// Go on with the export its state file describes (the same arguments).
        #[arg(long)]
        resume: bool,
        /// The state file (default: beside --output, or in data_dir for a destination).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Read every file, even one whose first and last times lie outside the range.
        #[arg(long)]
        read_every_file: bool,
    },
    /// Check the hash chains and signed digests of `[integrity]` in a copy of the events
    /// (a SIEM's export, captured requests, an export file; gzip or zstd too): reports
    /// each gap, reordering, altered or inserted event and cut tail with its stream, seq
    /// and place; an event found twice with the same bytes is a redelivery.
    #[command(after_help = "Exit codes: 0 intact; 1 tampered; 2 an error.")]
    Verify {
        /// Files holding the events (each line may hold several, wrapped in anything), or
        /// directories of them (captured requests, an archive).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The Ed25519 public key (PEM) the digests must be signed with.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// For an hmac-sha256 chain: the environment variable that holds its key.
        #[arg(long, value_name = "VAR", conflicts_with = "key_file")]
        key_env: Option<String>,
        /// For an hmac-sha256 chain: the file that holds its key.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// The copy keeps the stream's order (a destination with `concurrency = 1`,
        /// read as it arrived): an event after a higher seq is reported.
        #[arg(long)]
        in_order: bool,
    },
    /// Write a new Ed25519 key pair for `[integrity] signing_key`: the private key to
    /// PATH (0600, PKCS#8 PEM), the public key, for `sluice verify`, to PATH.pub.
    Keygen {
        /// Where the private key goes (never over an existing file).
        path: PathBuf,
    },
    /// Run a module on JSON Lines from stdin and print the requests it would send: a
    /// module with `--set` settings, or a destination of a configuration (`-c`) with
    /// its settings, routes and filters; or, with `--filter` alone, print the events a
    /// filter policy keeps (and where its routes send them). Nothing is sent, and no
    /// secret is read.
    Preview {
        /// A built-in module name or a path to a `.wasm`.
        #[arg(short, long, required_unless_present_any = ["filter", "config"], conflicts_with = "config")]
        module: Option<String>,
        /// A filter policy file: only the events it keeps are formatted (or printed).
        #[arg(long, value_name = "FILE", conflicts_with = "config")]
        filter: Option<PathBuf>,
        /// A configuration: preview its destination `--destination`.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The destination of the configuration to preview (needed when it has several).
        #[arg(long, value_name = "NAME", requires = "config")]
        destination: Option<String>,
        /// A module setting, `key=value`; repeatable (after the configured ones).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Write the project of module NAME into DIR/NAME: a formatter that builds and passes
    /// `sluice preview` as it is, a native test, and a README with the commands.
    New {
        /// The module's name, as destinations will name it (`my-siem`).
        name: String,
        /// The language it is written in.
        #[arg(long, value_enum, default_value_t)]
        lang: scaffold::Lang,
        /// Where the crate's folder is made.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The Sluice guest SDK to depend on (`guest-sdk` of a Sluice checkout); by
        /// default the crate gets a copy of the one this binary was built with.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Count the records by destination and reason.
    List {
        /// Configuration file (TOML): where the store is.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Send dead-lettered events again through a destination's current module and
    /// settings (after fixing what refused them); the records of events delivered
    /// leave the store, those refused again are written back with the new reason.
    /// Run it while `sluice run` is stopped (with a data_dir, it is refused otherwise).
    #[command(
        after_help = "Exit codes: 0 every event delivered; 3 some refused again; 2 an error."
    )]
    Replay {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// The destination whose records are sent again, to it.
        #[arg(long)]
        destination: String,
        /// Only records whose reason contains this text.
        #[arg(long)]
        reason: Option<String>,
        /// Only records written at or after this time (RFC 3339, e.g. 2026-11-30T08:00:00Z).
        #[arg(long)]
        since: Option<jiff::Timestamp>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the configuration file (TOML read as JSON), for an
    /// editor (taplo, VS Code's Even Better TOML) or a check before a file ships.
    Schema,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not key=value"))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

/// Logs go to stderr; `SLUICE_LOG` takes `tracing` filter directives (`debug`,
/// `sluice=trace`). A bare level is Sluice's own: the libraries it uses stay at `warn`
/// unless a directive names them (`debug,wasmtime=debug`), so `debug` is not a flood of
/// compiler internals. A filter that does not parse is an error: silently logging at
/// another level would hide what the operator asked to see.
///
/// The format is `SLUICE_LOG_FORMAT` (`text` or `json`), else the `log_format` of the
/// configuration `run` or `check` reads, else text.
fn init_logging(config: Option<&std::path::Path>) -> Result<LogFormat> {
    use std::io::IsTerminal;
    let format = match std::env::var("SLUICE_LOG_FORMAT") {
        Ok(format) => match format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => anyhow::bail!("SLUICE_LOG_FORMAT: `{format}` is neither `text` nor `json`"),
        },
        Err(_) => config.map_or_else(LogFormat::default, LogFormat::of_file),
    };
    let directives = std::env::var("SLUICE_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(own_levels(&directives))
        .with_context(|| {
            format!(
                "SLUICE_LOG: `{directives}` is not a tracing filter (try `info` or `sluice=debug`)"
            )
        })?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter);
    match format {
        // Colours only for a person at a terminal, not in a journal or a log file.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // The fields at the top level, next to `timestamp`, `level`, `target`, `message`.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    Ok(format)
}

/// `directives` with each bare level made Sluice's own (`debug` -> `sluice=debug`), after
/// `warn` for everything else.
fn own_levels(directives: &str) -> String {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let mut out = vec!["warn".to_owned()];
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            true => out.push(format!("sluice={directive}")),
            false => out.push(directive.to_owned()),
        }
    }
    out.join(",")
}

pub fn execute(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.command {
        Command::Run { config }
        | Command::Check { config, .. }
        | Command::Export { config, .. } => Some(config.as_path()),
        _ => None,
    };
    let format = init_logging(config)?;
    match (dispatch(cli.command, format), format) {
        // A collector reading JSON gets the error that ends the run as JSON too.
        (Err(error), LogFormat::Json) => {
            tracing::error!(error = %format!("{error:#}"), "sluice stopped on an error");
            Ok(ExitCode::from(2))
        }
        (done, _) => done,
    }
}

fn dispatch(command: Command, log_format: LogFormat) -> Result<ExitCode> {
    match command {
        // A progress bar drawn between JSON lines would break them.
        Command::Run { config } => run(Config::load(&config)?, log_format == LogFormat::Text),
        Command::Check { config, connect } => check(&config, connect),
        Command::Verify {
            inputs,
            public_key,
            key_env,
            key_file,
            in_order,
        } => {
            let key = match (key_env, key_file) {
                (Some(name), _) => Some(crate::config::SecretRef::Env(name)),
                (None, Some(path)) => Some(crate::config::SecretRef::File(path)),
                (None, None) => None,
            };
            let key = key
                .map(|key| key.resolve().map_err(anyhow::Error::msg))
                .transpose()?;
            verify::verify(&verify::Options {
                inputs,
                public_key,
                key: key.as_ref().map(|key| key.expose().to_owned()),
                in_order,
            })
        }
        Command::Keygen { path } => {
            let public = crate::integrity::keys::generate(&path)?;
            println!(
                "private key written to {} (keep it secret: integrity.signing_key = {{ file = \"{}\" }}); public key, for sluice verify --public-key, to {}",
                path.display(),
                path.display(),
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            config,
            from,
            to,
            policy,
            sources,
            destination,
            output,
            format,
            settings,
            resume,
            state,
            read_every_file,
        } => export::export(
            // A file output needs none of the destinations' secrets.
            match output {
                Some(_) => Config::load_unresolved(&config)?,
                None => Config::load(&config)?,
            },
            export::Request {
                from,
                to,
                policy,
                sources,
                destination,
                output: output.zip(format),
                settings,
                resume,
                state,
                read_every_file,
            },
            log_format == LogFormat::Text,
        ),
        Command::Preview {
            module,
            filter,
            config,
            destination,
            settings,
        } => preview::preview(preview::Subject {
            module: module.as_deref(),
            filter: filter.as_deref(),
            config: config.as_deref(),
            destination: destination.as_deref(),
            settings,
        }),
        Command::Modules { config } => modules(&Config::load_unresolved(&config)?),
        Command::Config(ConfigCommand::Schema) => {
            println!("{}", Config::schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "sluice", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status {
            config,
            admin,
            watch,
        } => {
            let target = match (config, admin) {
                (Some(config), _) => {
                    status::Target::from_config(&Config::load_unresolved(&config)?)?
                }
                (None, Some(url)) => status::Target::from_url(&url),
                (None, None) => unreachable!("clap requires one"),
            };
            status::status(&target, watch)
        }
        Command::Module {
            command:
                ModuleCommand::New {
                    name,
                    lang,
                    dir,
                    sdk,
                },
        } => {
            let root = scaffold::new_module(&name, lang, &dir, sdk.as_deref())?;
            println!(
                "module `{name}` written to {}; build it with (its README.md has the rest)
  cd {} && {}",
                root.display(),
                root.display(),
                lang.build_command(&name)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq {
            command: DlqCommand::List { config },
        } => dlq::list(&Config::load_unresolved(&config)?),
        Command::Dlq {
            command:
                DlqCommand::Replay {
                    config,
                    destination,
                    reason,
                    since,
                },
        } => dlq::replay(
            &Config::load(&config)?,
            &dlq::Selection {
                destination,
                reason,
                since,
            },
        ),
    }
}

/// What `run`'s exit code says, as `--help` and README document it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunOutcome {
    /// Every event read was delivered to every destination.
    Delivered = 0,
    /// Some events were abandoned at the shutdown deadline.
    Abandoned = 1,
    /// A source or delivery task failed (or the configuration was refused).
    Failed = 2,
    /// Finished, but lines were rejected, events dead-lettered or dropped by a
    /// `when_full` policy, input files could not be read, spool records were lost, or the
    /// last checkpoints could not be written: look at the dead-letter store and the log.
    Incomplete = 3,
}

fn run(config: Config, show_progress: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let counters = Arc::new(Counters::default());
    let progress = show_progress
        .then(|| progress::Progress::for_run(&config, &counters))
        .flatten();
    let summary = runtime.block_on(crate::run::run(config, counters));
    drop(progress);
    // A read of stdin blocks a thread of the runtime's pool, and dropping the runtime
    // would wait for it, after a signal as long as stdin stays open.
    runtime.shutdown_background();
    let summary = summary?;
    let c = &summary.counters;
    let [
        read,
        rejected,
        dead_lettered,
        dropped,
        abandoned,
        read_errors,
        spool_records_lost,
        checkpoints_unsaved,
    ] = [
        &c.events_in,
        &c.lines_rejected,
        &c.dead_lettered,
        &c.dropped,
        &c.abandoned,
        &c.read_errors,
        &c.spool_records_lost,
        &c.checkpoints_unsaved,
    ]
    .map(Counters::get);
    tracing::info!(
        events_read = read,
        lines_rejected = rejected,
        time_unparsed = Counters::get(&c.time_unparsed),
        filtered = Counters::get(&c.filtered),
        delivered = Counters::get(&c.delivered),
        dead_lettered,
        dropped,
        abandoned,
        sent_again_unconfirmed = Counters::get(&c.sent_again_unconfirmed),
        events_settled = Counters::get(&c.events_settled),
        spool_records_cut = Counters::get(&c.spool_records_cut),
        spool_records_lost,
        checkpoints_unsaved,
        dead_letters_removed = Counters::get(&c.dead_letters_removed),
        read_errors,
        "sluice stopped"
    );
    if rejected + dead_lettered > 0 {
        tracing::warn!(
            lines_rejected = rejected,
            events_dead_lettered = dead_lettered,
            file = %summary.dead_letter_file.display(),
            "not everything was delivered: the dead-letter store has each line and event with why"
        );
    }
    let outcome = if summary.failed_tasks > 0 {
        tracing::error!(
            tasks = summary.failed_tasks,
            "a source or delivery task failed (see above): events may be missing"
        );
        RunOutcome::Failed
    } else if abandoned > 0 {
        RunOutcome::Abandoned
    } else if rejected
        + dead_lettered
        + dropped
        + read_errors
        + spool_records_lost
        + checkpoints_unsaved
        > 0
    {
        RunOutcome::Incomplete
    } else {
        RunOutcome::Delivered
    };
    Ok(ExitCode::from(outcome as u8))
}

/// `sluice modules`: one line per module loaded, with the destinations that use it.
/// It loads the modules only, so it needs none of the secrets.
fn modules(config: &Config) -> Result<ExitCode> {
    let runtime = Runtime::configured(config)?;
    // By SHA-256: the same bytes serve several destinations.
    let mut loaded: std::collections::BTreeMap<String, (String, Vec<&str>)> = Default::default();
    for (index, destination) in config.destinations.iter().enumerate() {
        let module = crate::load::load_formatter_module(config, index, &runtime)?;
        let info = module.info();
        let line = format!(
            "{} {}  contract {}  sha256 {}  {}",
            info.name,
            info.version,
            module.contract_version(),
            module.sha256(),
            module.label()
        );
        loaded
            .entry(module.sha256())
            .or_insert((line, Vec::new()))
            .1
            .push(&destination.name);
        if destination.filter_module.is_some() {
            let filter = crate::load::load_filter_module(config, destination, &runtime)
                .with_context(|| {
                    format!(
                        "{}: {}.filter_module",
                        config.path.display(),
                        destination.location()
                    )
                })?;
            let line = format!(
                "{} {}  filter, contract {}  sha256 {}  {}",
                filter.info().name,
                filter.info().version,
                filter.contract_version(),
                filter.sha256(),
                filter.label()
            );
            loaded
                .entry(filter.sha256())
                .or_insert((line, Vec::new()))
                .1
                .push(&destination.name);
        }
    }
    for (line, users) in loaded.values() {
        println!("{line}  used by: {}", users.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn check(path: &std::path::Path, connect: bool) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let runtime = Runtime::configured(&config)?;
    let counters = Arc::new(Counters::default());
    let dead_letter = Arc::new(DeadLetter::configured(&config));
    dead_letter
        .check_writable()
        .with_context(|| format!("{}: dead_letter_dir", path.display()))?;
    if let Some(integrity) = &config.integrity {
        integrity.resolve_key()?;
        if let Some(pem) = integrity.resolve_signing_key()? {
            crate::integrity::keys::signing_key(pem.expose())
                .with_context(|| format!("{}: integrity.signing_key", path.display()))?;
        }
    }
    let destinations = crate::load::load_destinations(&config, &runtime, &dead_letter, &counters)?;
    let network = connect
        .then(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        })
        .transpose()?;
    let mut unreachable = 0;
    for (destination, settings) in destinations.iter().zip(&config.destinations) {
        let at = || format!("{}: {}", path.display(), settings.location());
        let enrichment = crate::pipeline::enrichment(&config.events.tags);
        // One verdict per destination: with --connect, its line says both.
        let connected = match &network {
            None => Ok(None),
            Some(network) => network.block_on(destination.connect(enrichment)).map(Some),
        };
        match connected {
            Ok(what) => println!(
                "ok  destination `{}`: {}{}",
                settings.name,
                destination.describe(),
                what.map(|what| format!("; {what}")).unwrap_or_default()
            ),
            Err(error) => {
                unreachable += 1;
                eprintln!("sluice: error: {}: {error:#}", at());
            }
        }
    }
    // A source that connects somewhere is tested as a destination is.
    if let Some(network) = &network {
        for (i, source) in config.sources.iter().enumerate() {
            if let SourceConfig::JetStream(jetstream) = source {
                let label = source.label();
                match network.block_on(crate::source::probe_jetstream(jetstream, &label)) {
                    Ok(what) => println!("ok  source `{label}`: {what}"),
                    Err(error) => {
                        unreachable += 1;
                        eprintln!(
                            "sluice: error: {}: {}: {error:#}",
                            path.display(),
                            config.source_location(i)
                        );
                    }
                }
            }
        }
    }
    for warning in config.warnings() {
        println!("warn  {}: {warning}", path.display());
    }
    for (i, source) in config.sources.iter().enumerate() {
        if let SourceConfig::File { paths, .. } = source {
            for (j, pattern) in paths.iter().enumerate() {
                let found = crate::source::matches(std::slice::from_ref(pattern))?;
                for odd in &found.not_utf8 {
                    println!(
                        "warn  {}: {}.paths[{j}]: `{pattern}` would match {}, whose name is not UTF-8: it is not read (rename it)",
                        path.display(),
                        config.source_location(i),
                        crate::module::one_line(&odd.display().to_string())
                    );
                }
                for (unreadable, error) in &found.unreadable {
                    println!(
                        "warn  {}: {}.paths[{j}]: `{pattern}` searches {}, which cannot be read ({error}): files there are not read",
                        path.display(),
                        config.source_location(i),
                        crate::module::one_line(&unreadable.display().to_string())
                    );
                }
                for not_file in &found.not_files {
                    println!(
                        "warn  {}: {}.paths[{j}]: `{pattern}` matches {}, which is not a regular file (not read)",
                        path.display(),
                        config.source_location(i),
                        crate::module::one_line(&not_file.display().to_string())
                    );
                }
                if found.files.is_empty() && found.not_files.is_empty() {
                    println!(
                        "warn  {}: {}.paths[{j}]: `{pattern}` matches no file (yet)",
                        path.display(),
                        config.source_location(i)
                    );
                }
            }
        }
    }
    if unreachable > 0 {
        eprintln!(
            "sluice: error: {}: {unreachable} destination(s) or source(s) failed the connection check",
            path.display()
        );
        return Ok(ExitCode::from(2));
    }
    println!(
        "ok  {}: {} source(s), {} destination(s)",
        path.display(),
        config.sources.len(),
        config.destinations.len()
    );
    Ok(ExitCode::SUCCESS)
}
