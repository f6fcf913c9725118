//! `sluice status`: a running host's figures, read from its admin listener (`/status`),
//! as a table per destination; with `--watch`, again every second with the rates in and
//! out since the last, as `vector top` does.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::config::{Config, Secret};

/// Where the admin listener is, and its token.
pub struct Target {
    url: String,
    token: Option<Secret>,
}

impl Target {
    /// The listener of `config`'s `[admin]` table, with its token.
    pub fn from_config(config: &Config) -> Result<Target> {
        let Some(admin) = &config.admin else {
            bail!(
                "{}: no [admin] table: add one (listen = \"127.0.0.1:9464\") and restart the host, or give --admin URL",
                config.path.display()
            );
        };
        let token = admin.resolve_token()?;
        Ok(Target {
            url: format!("http://{}", admin.listen),
            token,
        })
    }

    /// The listener at `url`, with the token in `SLUICE_ADMIN_TOKEN` if it is set.
    pub fn from_url(url: &str) -> Target {
        Target {
            url: url.trim_end_matches('/').to_owned(),
            token: std::env::var("SLUICE_ADMIN_TOKEN")
                .ok()
                .map(Secret::obtained),
        }
    }
}

/// Prints the table once, or every second until interrupted with `watch`.
pub fn status(target: &Target, watch: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut previous: Option<Value> = None;
    loop {
        let now = runtime.block_on(fetch(&client, target))?;
        let table = render(&now, previous.as_ref());
        let mut out = std::io::stdout().lock();
        if watch {
            // Clear the screen and go home, as `watch` does.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{table}")?;
        out.flush()?;
        if !watch {
            return Ok(ExitCode::SUCCESS);
        }
        previous = Some(now);
        std::thread::sleep(Duration::from_secs(1));
    }
}

async fn fetch(client: &reqwest::Client, target: &Target) -> Result<Value> {
    let url = format!("{}/status", target.url);
    let mut request = client.get(&url);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.with_context(|| {
        format!("cannot reach the admin listener at {url} (is the host running, with [admin]?)")
    })?;
    match response.status().as_u16() {
        200 => {
            let body = response
                .bytes()
                .await
                .context("the admin listener's answer")?;
            Ok(serde_json::from_slice(&body).context("the admin listener's answer is not JSON")?)
        }
        401 => bail!(
            "{url}: the admin listener wants its token (admin.token; with --admin, in SLUICE_ADMIN_TOKEN)"
        ),
        code => bail!("{url}: HTTP {code}"),
    }
}

/// The figure `key` of `value`, as a number (0 when absent).
fn number(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or(0.0)
}

/// `now - before` per second over `seconds`, when there is a before.
fn per_second(now: f64, before: Option<f64>, seconds: Option<f64>) -> String {
    match (before, seconds) {
        (Some(before), Some(seconds)) if seconds > 0.0 => {
            format!("{:.0}", (now - before) / seconds)
        }
        _ => "-".into(),
    }
}

/// Events a destination settled (delivered or dead-lettered).
fn settled_out(destination: &Value) -> f64 {
    number(destination, "delivered") + number(destination, "dead_lettered")
}

/// The host's line, then one row per destination.
fn render(now: &Value, before: Option<&Value>) -> String {
    let seconds =
        before.map(|before| number(now, "uptime_seconds") - number(before, "uptime_seconds"));
    let mut out = format!(
        "sluice {}, up {}s: {} events read ({}/s), {} lines rejected, {} filtered\n\n",
        now["version"].as_str().unwrap_or("?"),
        number(now, "uptime_seconds") as u64,
        number(now, "events_read"),
        per_second(
            number(now, "events_read"),
            before.map(|b| number(b, "events_read")),
            seconds
        ),
        number(now, "lines_rejected"),
        number(now, "filtered"),
    );
    let header = [
        "destination",
        "state",
        "circuit",
        "backlog",
        "oldest",
        "in/s",
        "out/s",
        "delivered",
        "dead-lettered",
        "dropped",
        "last error",
    ];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    let empty = Vec::new();
    let destinations = now["destinations"].as_array().unwrap_or(&empty);
    for destination in destinations {
        let name = destination["name"].as_str().unwrap_or("?");
        let previous = before.and_then(|before| {
            before["destinations"]
                .as_array()?
                .iter()
                .find(|d| d["name"] == name)
        });
        let state = if destination["paused"] == true {
            "paused".to_owned()
        } else if let Some(failing) = destination["failing_for_seconds"].as_f64() {
            format!("failing {}s", failing as u64)
        } else {
            "ok".to_owned()
        };
        rows.push(vec![
            name.to_owned(),
            state,
            destination["circuit"].as_str().unwrap_or("?").to_owned(),
            number(destination, "backlog").to_string(),
            destination["oldest_unsettled_seconds"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |age| format!("{}s", age as u64)),
            per_second(
                number(destination, "events_in"),
                previous.map(|p| number(p, "events_in")),
                seconds,
            ),
            per_second(settled_out(destination), previous.map(settled_out), seconds),
            number(destination, "delivered").to_string(),
            number(destination, "dead_lettered").to_string(),
            number(destination, "dropped_when_full").to_string(),
            crate::module::one_line(destination["last_error"].as_str().unwrap_or("")),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
