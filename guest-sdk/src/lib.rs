//! The SDK for Sluice modules.
//!
//! A formatter module is one type that implements [`Formatter`] and one call to
//! [`export_formatter!`]. The bindings generated from `wit/sluice.wit` stay inside this
//! crate; authors see plain Rust types ([`Batch`], [`Event`], [`Settings`],
//! [`HttpRequest`], [`Verdict`]...) and the helpers every module needs: JSON writing and
//! field access ([`json`]), time formatting ([`time`]), escaping for the text formats of
//! SIEMs ([`escape`]), logging ([`log`]) and signing with keys held by the host ([`sign`]).
//!
//! ```
//! use sluice_guest::{
//!     Batch, Enrichment, FormatError, Formatted, Formatter, HttpRequest, Info, PayloadBuilder,
//!     Request, Settings,
//! };
//!
//! /// Posts each batch as newline-delimited JSON.
//! struct NdjsonSink {
//!     path: String,
//! }
//!
//! impl Formatter for NdjsonSink {
//!     fn info() -> Info {
//!         Info::http("ndjson", "0.1.0")
//!     }
//!
//!     fn new(settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
//!         Ok(NdjsonSink { path: settings.get("path").unwrap_or("/logs").to_owned() })
//!     }
//!
//!     fn format(&self, batch: &Batch) -> Result<Formatted, FormatError> {
//!         let mut body = PayloadBuilder::with_capacity(batch, batch.len(), 2 * batch.len());
//!         for event in batch.events() {
//!             body.push_event(&event); // placed by the host, never copied here
//!             body.push(b"\n");
//!         }
//!         let request = HttpRequest {
//!             method: "POST".into(),
//!             path: self.path.clone(),
//!             headers: vec![("Content-Type".into(), "application/x-ndjson".into())],
//!             body: body.finish(),
//!             compression: sluice_guest::Compression::None,
//!             events: (0..batch.len() as u32).collect(),
//!         };
//!         Ok(Formatted { requests: vec![Request::Http(request)], refused: Vec::new() })
//!     }
//! }
//!
//! sluice_guest::export_formatter!(NdjsonSink);
//! ```
//!
//! The same code compiles natively (the export macro only emits the WebAssembly exports
//! on `wasm32`), so a module's encoder can be unit-tested and benchmarked with plain
//! `cargo test`.

#![deny(missing_docs)]

mod batch;
pub mod cef;
pub mod enrich;
pub mod escape;
pub mod filter;
pub mod json;
pub mod leef;
pub mod log;
pub mod lossless;
mod payload;
mod response;
pub mod schema;
mod settings;
pub mod severity;
pub mod siem;
pub mod sign;
pub mod split;
pub mod testing;
pub mod time;

use __private::wit;

pub use batch::{Batch, Enrichment, Event, EventId, TimeSource};
pub use payload::{Mark, Payload, PayloadBuilder, Piece};
pub use settings::{SettingDoc, Settings};
/// The host's rule for a subject a message can be published to, so a module checks
/// a subject template when configured rather than fail every batch.
pub use sluice_contract::answer::check_subject;

// The generated types that are already plain Rust are re-exported by name, so that the
// SDK decides what is public and can shadow any of them later.
pub use wit::sluice::module::types::{
    AckState, AuthHeader, BatchLimits, Compression, ConnectionCheck, EndpointChoice, FormatError,
    FramedMessages, HttpRequest, HttpResponse, PartialFailure, PublishedMessages, Query, Refusal,
    Request, RetryAdvice, SentRequest, SettingProblem, Transport, Verdict,
};

/// What a module tells the host about itself.
#[derive(Debug, Clone)]
pub struct Info {
    /// The module's name, as destinations name it (`splunk-hec`).
    pub name: String,
    /// The module's version.
    pub version: String,
    /// How its requests travel.
    pub transport: Transport,
    /// Default batch limits; a destination's `batch` overrides them.
    pub batch: BatchLimits,
    /// The header the destination authenticates with; the host adds it with the
    /// configured token, which the module never sees.
    pub auth: Option<AuthHeader>,
    /// The endpoints a setting chooses among ([`EndpointChoice`]), for a destination
    /// that names a vendor's site rather than writing its URL.
    pub endpoint_choice: Option<EndpointChoice>,
    /// The settings the module accepts; any other is refused before it starts.
    pub settings: Vec<SettingDoc>,
}

impl Info {
    /// An HTTP module with the host's default batch limits and no authentication.
    pub fn http(name: &str, version: &str) -> Self {
        Info {
            name: name.to_owned(),
            version: version.to_owned(),
            transport: Transport::Http,
            batch: BatchLimits {
                max_events: 500,
                max_bytes: 1_000_000,
            },
            auth: None,
            endpoint_choice: None,
            settings: Vec::new(),
        }
    }

    /// A module of messages (syslog, CEF, LEEF lines: [`Formatted::lines`]) for the
    /// stream and datagram transports, 1000 events or 1 MB a batch, no authentication.
    pub fn messages(name: &str, version: &str) -> Self {
        Info {
            transport: Transport::Stream,
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 1_000_000,
            },
            ..Info::http(name, version)
        }
    }

    /// A module that publishes messages to subjects of a broker (NATS JetStream:
    /// [`Request::Publish`]), 1000 events or 1 MB a batch; the host holds the broker's
    /// credential.
    pub fn publish(name: &str, version: &str) -> Self {
        Info {
            transport: Transport::Publish,
            ..Info::messages(name, version)
        }
    }
}

/// The requests for one batch, and the events no request can carry.
#[derive(Debug, Default)]
pub struct Formatted {
    /// What to send, in order.
    pub requests: Vec<Request>,
    /// Events no request can carry, with why: the host dead-letters them.
    pub refused: Vec<Refusal>,
}

impl Formatted {
    /// One request of messages, one message per event as `line` writes it: how a
    /// module of line formats (CEF, LEEF) answers a batch. The host frames the
    /// messages for a stream or sends each as a datagram.
    pub fn lines(batch: &Batch<'_>, line: impl Fn(&Event<'_>) -> String) -> Formatted {
        if batch.is_empty() {
            return Formatted::default();
        }
        let mut messages = PayloadBuilder::with_capacity(batch, batch.text_len() * 2, batch.len());
        let mut ends = Vec::with_capacity(batch.len());
        for event in batch.events() {
            messages.push(line(&event).as_bytes());
            ends.push(messages.len() as u32);
        }
        Formatted {
            requests: vec![Request::Messages(FramedMessages {
                messages: messages.finish(),
                message_ends: ends,
                events: (0..batch.len() as u32).collect(),
            })],
            refused: Vec::new(),
        }
    }
}

impl Formatted {
    /// The whole batch as one object, `body`: one object of an object store, which the
    /// host names and this request's path (`/.jsonl`, `/.csv.gz`) ends; or one PUT to an
    /// HTTP endpoint. How the `archive` and `csv` modules answer a batch.
    pub fn one_object(
        batch: &Batch<'_>,
        extension: &str,
        content_type: &str,
        body: Payload,
        gzip: bool,
    ) -> Formatted {
        let (path, compression) = match gzip {
            true => (format!("/.{extension}.gz"), Compression::Gzip),
            false => (format!("/.{extension}"), Compression::None),
        };
        Formatted {
            requests: vec![Request::Http(HttpRequest {
                method: "PUT".into(),
                path,
                headers: vec![("Content-Type".into(), content_type.into())],
                body,
                compression,
                events: (0..batch.len() as u32).collect(),
            })],
            refused: Vec::new(),
        }
    }
}

impl AuthHeader {
    /// `Authorization: Bearer <token>`, the token the destination's `token` names.
    pub fn bearer() -> Self {
        AuthHeader::header("Authorization", "Bearer ")
    }

    /// Header `name` with `prefix` and the token (`X-Acme-Key` and `""`: the token
    /// alone). The host adds it to every request; the module never sees the token.
    pub fn header(name: &str, prefix: &str) -> Self {
        AuthHeader {
            name: name.into(),
            prefix: prefix.into(),
            optional: false,
        }
    }

    /// The same header, for a destination that may give no credential: its requests
    /// then go without it (a receiver that takes anyone's).
    pub fn optional(self) -> Self {
        AuthHeader {
            optional: true,
            ..self
        }
    }
}

impl EndpointChoice {
    /// The endpoints `setting` chooses among: each value and its `https://` URL.
    pub fn new(setting: &str, endpoints: &[(&str, &str)]) -> Self {
        EndpointChoice {
            setting: setting.into(),
            endpoints: endpoints
                .iter()
                .map(|&(value, url)| (value.into(), url.into()))
                .collect(),
        }
    }
}

impl FormatError {
    /// A setting with a value the module cannot use; the host names the destination.
    pub fn setting(key: &str, problem: impl Into<String>) -> Self {
        FormatError::InvalidSetting(SettingProblem {
            key: key.to_owned(),
            problem: problem.into(),
        })
    }
}

/// A destination format. The host makes one value per module instance, with the
/// destination's settings, and calls it once per batch or per response.
pub trait Formatter: Sized + 'static {
    /// Name, version, transport, default batch limits, auth header and settings.
    fn info() -> Info;

    /// Reads the settings, once per instance; a bad one is reported before any event
    /// is read (`sluice check` shows it). `enrichment` is the same for every batch.
    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError>;

    /// Turns a batch into requests. Every event goes into a request's `events` or, if it
    /// can never be sent, into [`Formatted::refused`] with a reason: the host
    /// dead-letters an event that is in neither. An `Err` keeps the whole batch for a
    /// retry. HTTP paths start with `/`, and the framing headers (`Host`,
    /// `Content-Length`, `Transfer-Encoding`, `Connection`, `Content-Encoding`) are the
    /// host's: an answer that breaks these rules fails the call.
    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError>;

    /// Reads the destination's answer. The default knows only HTTP status codes;
    /// see [`Verdict::from_status`]. A partial failure names events by their position in
    /// the request's `events`, each at most once.
    fn classify(&self, response: &HttpResponse, request: &SentRequest) -> Verdict {
        let _ = request;
        Verdict::from_status(response)
    }

    /// A request that reaches the destination and tests the credential without sending
    /// an event, for `sluice check --connect` (the host adds the credential). `None`,
    /// the default, when the destination has no such request: the host then only
    /// checks that the endpoint answers.
    fn connection_check(&self) -> Option<ConnectionCheck> {
        None
    }

    /// For a destination that confirms later what it kept: the request that asks it
    /// about `tickets`, from [`Verdict::Pending`] answers (the host sends the tickets
    /// of many requests at once, adding the credential). `None`, the default, for a
    /// module that never answers `Pending`.
    fn ack_query(&self, tickets: &[String]) -> Option<Query> {
        let _ = tickets;
        None
    }

    /// Reads the answer to [`Formatter::ack_query`]: one state per ticket, in order; an
    /// `Err` when the answer says nothing of them (the host asks again later).
    fn read_acks(
        &self,
        response: &HttpResponse,
        tickets: &[String],
    ) -> Result<Vec<AckState>, String> {
        let _ = tickets;
        Err(format!(
            "this module has no acknowledgements (HTTP {})",
            response.status
        ))
    }
}

/// Exports a [`Formatter`] as the module's implementation of the contract.
///
/// On targets other than `wasm32` it expands to nothing, so the module's crate also
/// builds natively for tests and benchmarks.
#[macro_export]
macro_rules! export_formatter {
    ($formatter:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                /// The formatter `configure` made; WebAssembly runs one thread.
                static CONFIGURED: ::std::cell::RefCell<::std::option::Option<$formatter>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Exported;
            impl $crate::__private::FormattingGuest for Exported {
                fn describe() -> $crate::__private::WitInfo {
                    $crate::__private::describe::<$formatter>()
                }
                fn configure(
                    settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    enrichment: $crate::Enrichment,
                ) -> ::std::result::Result<(), $crate::FormatError> {
                    let formatter = $crate::__private::configure::<$formatter>(settings, &enrichment)?;
                    CONFIGURED.with_borrow_mut(|configured| *configured = ::std::option::Option::Some(formatter));
                    ::std::result::Result::Ok(())
                }
                fn format(
                    batch: $crate::__private::WitBatch,
                    text: &$crate::__private::WitEventText,
                ) -> ::std::result::Result<$crate::__private::WitFormatted, $crate::FormatError>
                {
                    CONFIGURED.with_borrow(|configured| {
                        $crate::__private::format(configured.as_ref(), batch, text)
                    })
                }
                fn classify(
                    response: $crate::HttpResponse,
                    request: $crate::SentRequest,
                ) -> $crate::Verdict {
                    CONFIGURED.with_borrow(|configured| {
                        $crate::__private::classify(configured.as_ref(), &response, &request)
                    })
                }
                fn check_connection() -> ::std::option::Option<$crate::ConnectionCheck> {
                    CONFIGURED.with_borrow(|configured| {
                        configured.as_ref().and_then($crate::Formatter::connection_check)
                    })
                }
                fn ack_query(
                    tickets: ::std::vec::Vec<::std::string::String>,
                ) -> ::std::option::Option<$crate::Query> {
                    CONFIGURED.with_borrow(|configured| {
                        configured.as_ref().and_then(|formatter| $crate::Formatter::ack_query(formatter, &tickets))
                    })
                }
                fn read_acks(
                    response: $crate::HttpResponse,
                    tickets: ::std::vec::Vec<::std::string::String>,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::AckState>, ::std::string::String> {
                    CONFIGURED.with_borrow(|configured| {
                        $crate::__private::read_acks(configured.as_ref(), &response, &tickets)
                    })
                }
            }
            $crate::__private::__export_formatter_bindings!(Exported with_types_in $crate::__private::wit);
        };
    };
}

/// Only for [`export_formatter!`]; not part of the SDK's API.
#[doc(hidden)]
pub mod __private {
    /// The generated bindings: reachable for the macro's expansion in the module's
    /// crate, never to be named by it.
    #[allow(missing_docs, clippy::all, unsafe_code, reason = "generated bindings")]
    pub mod wit {
        wit_bindgen::generate!({
            path: "../wit",
            world: "formatter",
            pub_export_macro: true,
            export_macro_name: "__export_formatter_bindings",
            default_bindings_module: "::sluice_guest::__private::wit",
        });
    }

    /// The bindings of the `filter` world, sharing the formatter's types.
    #[allow(missing_docs, clippy::all, unsafe_code, reason = "generated bindings")]
    pub mod wit_filter {
        wit_bindgen::generate!({
            path: "../wit",
            world: "filter",
            pub_export_macro: true,
            export_macro_name: "__export_filter_bindings",
            default_bindings_module: "::sluice_guest::__private::wit_filter",
            with: {
                "sluice:module/types@0.6.0": super::wit::sluice::module::types,
                "sluice:module/host@0.6.0": super::wit::sluice::module::host,
            },
        });
    }

    use crate::{
        Batch, Enrichment, FormatError, Formatter, HttpResponse, SentRequest, Settings, Verdict,
    };
    pub use wit::__export_formatter_bindings;
    pub use wit::exports::sluice::module::formatting::Guest as FormattingGuest;
    pub use wit::sluice::module::types::{
        Batch as WitBatch, EventText as WitEventText, Formatted as WitFormatted, Info as WitInfo,
    };
    pub use wit_filter::__export_filter_bindings;
    pub use wit_filter::exports::sluice::module::filtering::{
        FilterInfo as WitFilterInfo, Guest as FilteringGuest,
    };

    /// Why a call came before `configure`: a host that breaks the contract.
    const NOT_CONFIGURED: &str = "the host called the module before configuring it";

    pub fn describe<F: Formatter>() -> WitInfo {
        crate::log::report_panics();
        let info = F::info();
        WitInfo {
            name: info.name,
            version: info.version,
            transport: info.transport,
            batch: info.batch,
            auth: info.auth,
            endpoint_choice: info.endpoint_choice,
            settings: info.settings.into_iter().map(Into::into).collect(),
        }
    }

    pub fn configure<F: Formatter>(
        settings: Vec<(String, String)>,
        enrichment: &Enrichment,
    ) -> Result<F, FormatError> {
        crate::log::report_panics();
        F::new(&Settings::new(settings, F::info().settings), enrichment)
    }

    pub fn format<F: Formatter>(
        formatter: Option<&F>,
        batch: WitBatch,
        text: &WitEventText,
    ) -> Result<WitFormatted, FormatError> {
        let formatter = formatter.ok_or_else(|| FormatError::Failed(NOT_CONFIGURED.into()))?;
        let formatted = formatter.format(&Batch::from_wit(batch, text))?;
        Ok(WitFormatted {
            requests: formatted.requests,
            refused: formatted.refused,
        })
    }

    pub fn filter_describe<F: crate::filter::Filter>() -> WitFilterInfo {
        crate::log::report_panics();
        let info = F::info();
        WitFilterInfo {
            name: info.name,
            version: info.version,
            settings: info.settings.into_iter().map(Into::into).collect(),
        }
    }

    pub fn filter_configure<F: crate::filter::Filter>(
        settings: Vec<(String, String)>,
    ) -> Result<F, FormatError> {
        crate::log::report_panics();
        F::new(&Settings::new(settings, F::info().settings))
    }

    /// One flag per event; none kept before `configure` (a host that breaks the
    /// contract gets a wrong count, which it refuses).
    pub fn filter_keep<F: crate::filter::Filter>(
        filter: Option<&F>,
        batch: WitBatch,
        text: &WitEventText,
    ) -> Vec<bool> {
        let Some(filter) = filter else {
            return Vec::new();
        };
        Batch::from_wit(batch, text)
            .events()
            .map(|event| filter.keep(&event))
            .collect()
    }

    pub fn read_acks<F: Formatter>(
        formatter: Option<&F>,
        response: &HttpResponse,
        tickets: &[String],
    ) -> Result<Vec<crate::AckState>, String> {
        formatter
            .ok_or_else(|| NOT_CONFIGURED.to_owned())?
            .read_acks(response, tickets)
    }

    pub fn classify<F: Formatter>(
        formatter: Option<&F>,
        response: &HttpResponse,
        request: &SentRequest,
    ) -> Verdict {
        match formatter {
            Some(formatter) => formatter.classify(response, request),
            None => Verdict::Retry(crate::RetryAdvice {
                reason: NOT_CONFIGURED.into(),
                after_ms: None,
            }),
        }
    }
}
