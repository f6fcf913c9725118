//! CSV: the reference Sluice module for spreadsheets and tools that read CSV. Each batch
//! is one CSV text (one object in an object store: `file://`, `s3://`...; one request
//! body to an HTTP endpoint), a header row then a row per event.
//!
//! `columns` names what each column holds: a dotted path into the event (`actor.id`),
//! or the host's enrichment (`sluice.event_id`, `sluice.time`, `sluice.time_source`,
//! `sluice.host`, `sluice.machine_id`, `sluice.version`, `sluice.tags`). Text is written
//! as it is, numbers, booleans, arrays and objects as the event wrote them (JSON text),
//! a missing field or null as an empty cell. Cells are quoted as RFC 4180 says
//! (a delimiter, a quote, CR or LF inside; quotes doubled), and rows end with CRLF.
//!
//! A cell that a spreadsheet would run as a formula (its text starts with `=`, `+`, `-`,
//! `@`, a tab or a CR: OWASP's CSV injection rule; or a byte-order mark) gets a `'` in
//! front, so that it is shown as text, unless `neutralize_formulas = false`. A cell
//! holding `,`, `;` or a tab is quoted whatever the delimiter, so that a spreadsheet
//! splitting on another list separator finds no new cell in it. That changes what such a cell
//! says (`-5` in a text field becomes `'-5`; number values are never changed).

use sluice_guest::json::Fields;
use sluice_guest::time::rfc3339_utc;
use sluice_guest::{
    Batch, BatchLimits, Enrichment, Event, FormatError, Formatted, HttpResponse, Info, SentRequest,
    SettingDoc, Settings, TimeSource, Verdict,
};

/// The CSV formatter of one destination.
pub struct Csv {
    columns: Vec<Column>,
    /// The event fields the columns hold, read in one pass over each event.
    fields: Fields,
    /// The header row, written once.
    header: Option<Vec<u8>>,
    delimiter: u8,
    neutralize: bool,
    gzip: bool,
    enrichment: Enrichment,
    /// `sluice.tags`: the tags as a JSON object, made once.
    tags: String,
}

/// What one column holds.
enum Column {
    /// A dotted path into the event: the index of its value among [`Csv::fields`].
    Field(usize),
    EventId,
    Time,
    TimeSource,
    Host,
    MachineId,
    Version,
    Tags,
}

impl Column {
    /// The column `name`; an event field's path is added to `paths`.
    fn named(name: &str, paths: &mut Vec<String>) -> Result<Column, FormatError> {
        Ok(match name {
            "sluice.event_id" => Column::EventId,
            "sluice.time" => Column::Time,
            "sluice.time_source" => Column::TimeSource,
            "sluice.host" => Column::Host,
            "sluice.machine_id" => Column::MachineId,
            "sluice.version" => Column::Version,
            "sluice.tags" => Column::Tags,
            other if other.starts_with("sluice.") => {
                return Err(FormatError::setting(
                    "columns",
                    format!(
                        "`{other}` is not one of the host's fields: sluice.event_id, sluice.time, sluice.time_source, sluice.host, sluice.machine_id, sluice.version, sluice.tags"
                    ),
                ));
            }
            "" => {
                return Err(FormatError::setting(
                    "columns",
                    "a column has no name (two commas in a row, or one at an end?)",
                ));
            }
            path => {
                paths.push(path.to_owned());
                Column::Field(paths.len() - 1)
            }
        })
    }
}

impl sluice_guest::Formatter for Csv {
    fn info() -> Info {
        Info {
            // One file of 10 MB or 100,000 rows at most, as the archive module's objects.
            batch: BatchLimits {
                max_events: 100_000,
                max_bytes: 10_000_000,
            },
            settings: vec![
                SettingDoc {
                    name: "columns",
                    description: "the columns, comma-separated: dotted paths into the event (`timestamp,actor.id,action,outcome`) or the host's `sluice.event_id`, `sluice.time`, `sluice.time_source`, `sluice.host`, `sluice.machine_id`, `sluice.version`, `sluice.tags`",
                    default: None,
                },
                SettingDoc {
                    name: "header",
                    description: "start each file with a row of the column names",
                    default: Some("true"),
                },
                SettingDoc {
                    name: "delimiter",
                    description: "`,`, `;` or `tab`",
                    default: Some(","),
                },
                SettingDoc {
                    name: "neutralize_formulas",
                    description: "put a `'` before a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR, so that a spreadsheet shows it rather than runs it",
                    default: Some("true"),
                },
                SettingDoc {
                    name: "gzip",
                    description: "compress each file (its name ends `.csv.gz`, else `.csv`)",
                    default: Some("false"),
                },
            ],
            ..Info::http("csv", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        settings.require(&["columns"])?;
        let names: Vec<String> = settings
            .text("columns")
            .unwrap_or_default()
            .split(',')
            .map(|name| name.trim().to_owned())
            .collect();
        let mut paths = Vec::new();
        let columns = names
            .iter()
            .map(|name| Column::named(name, &mut paths))
            .collect::<Result<Vec<_>, _>>()?;
        // `get`, not `text`: a blank value is a mistake to say, not the default.
        let delimiter = match settings.get("delimiter") {
            Some(",") | None => b',',
            Some(";") => b';',
            Some("tab" | "\t") => b'\t',
            Some(other) => {
                return Err(FormatError::setting(
                    "delimiter",
                    format!("`{other}`: give `,`, `;` or `tab`"),
                ));
            }
        };
        let mut csv = Csv {
            columns,
            fields: Fields::new(paths),
            header: None,
            delimiter,
            neutralize: settings.flag("neutralize_formulas")?,
            gzip: settings.flag("gzip")?,
            enrichment: enrichment.clone(),
            tags: serde_json::Value::Object(
                enrichment
                    .tags
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone().into()))
                    .collect(),
            )
            .to_string(),
        };
        if settings.flag("header")? {
            let mut header = Vec::new();
            csv.row(&mut header, names.iter().map(|name| name.as_str().into()));
            csv.header = Some(header);
        }
        Ok(csv)
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        let mut body = self.header.clone().unwrap_or_default();
        for event in batch.events() {
            let values = self.fields.read(event.json());
            let cells = self
                .columns
                .iter()
                .map(|column| self.cell(column, &event, &values));
            self.row(&mut body, cells);
        }
        Ok(Formatted::one_object(
            batch,
            "csv",
            "text/csv; charset=utf-8",
            body.into(),
            self.gzip,
        ))
    }

    /// Asked only if the destination is an HTTP endpoint: any 2xx took the file.
    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        Verdict::from_status(response)
    }
}

/// A cell's content before quoting, and whether it came from text (which a spreadsheet
/// could read as a formula).
struct Cell {
    text: String,
    from_text: bool,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell {
            text: text.to_owned(),
            from_text: true,
        }
    }
}

impl Csv {
    /// What `column` holds for `event`, whose fields' values are `values`.
    fn cell(&self, column: &Column, event: &Event<'_>, values: &[Option<&str>]) -> Cell {
        let text = |text: String| Cell {
            text,
            from_text: true,
        };
        match column {
            Column::Field(index) => match values[*index] {
                None | Some("null") => text(String::new()),
                Some(quoted) if quoted.starts_with('"') => {
                    text(serde_json::from_str(quoted).unwrap_or_default())
                }
                // Numbers and booleans as the event wrote them (`-0`, `1e400`), arrays
                // and objects as their JSON text, which the rule does not apply to: a
                // number starting with `-` is a number.
                Some(value) => Cell {
                    text: value.to_owned(),
                    from_text: false,
                },
            },
            Column::EventId => text(event.id().to_string()),
            Column::Time => text(rfc3339_utc(event.time_ms())),
            Column::TimeSource => text(
                match event.time_source() {
                    TimeSource::Event => "event",
                    TimeSource::Ingest => "ingest",
                }
                .to_owned(),
            ),
            Column::Host => text(self.enrichment.host_name.clone()),
            Column::MachineId => text(self.enrichment.machine_id.clone()),
            Column::Version => text(self.enrichment.sluice_version.clone()),
            Column::Tags => text(self.tags.clone()),
        }
    }

    /// Appends one row of `cells`, each quoted as needed, and CRLF.
    fn row(&self, out: &mut Vec<u8>, cells: impl Iterator<Item = Cell>) {
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            // A byte-order mark first is read as the file's encoding by spreadsheets,
            // and what follows it as the cell.
            let formula = self.neutralize
                && cell.from_text
                && cell
                    .text
                    .starts_with(['=', '+', '-', '@', '\t', '\r', '\u{feff}']);
            // Every list separator a spreadsheet may split on is quoted, whatever the
            // delimiter: Excel splits a `.csv` on the system's (`;` in much of Europe),
            // and an unquoted `x;=cmd` would start a cell with a formula.
            let quoted = formula
                || cell
                    .text
                    .bytes()
                    .any(|b| matches!(b, b'"' | b'\r' | b'\n' | b',' | b';' | b'\t'));
            if quoted {
                out.push(b'"');
            }
            if formula {
                out.push(b'\'');
            }
            for piece in cell.text.split_inclusive('"') {
                out.extend_from_slice(piece.as_bytes());
                if piece.ends_with('"') {
                    out.push(b'"');
                }
            }
            if quoted {
                out.push(b'"');
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

sluice_guest::export_formatter!(Csv);

#[cfg(test)]
mod tests;
