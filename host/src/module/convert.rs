//! Between the types generated for the contract version a module implements and the
//! host's own ([`sluice_contract::types`]), which the rest of the host uses. Every
//! version served gets the records they share from [`shared_conversions!`], and writes
//! by hand only what changed.
//!
//! Text a module writes for people (reasons, problems) becomes one line of plain text
//! here (`state::one_line`), as its log messages do, so no path of the host logs or stores
//! it raw: a reason cannot start a forged log line.
//!
//! Conversions move the values' vectors and strings; none copies an event. The batch
//! columns are the exception: they are copied into a buffer kept per instance, a few
//! `memcpy`s per batch.

/// The conversions of the records every served version has alike, expanded in a module
/// where the version's generated types are `wit` and the host's are `host`.
macro_rules! shared_conversions {
    // The verdicts, transports and requests a version has besides those every one has,
    // as match arms.
    (
        verdicts: [$($verdict_arms:tt)*],
        transports: [$($transport_arms:tt)*],
        requests: [$($request_arms:tt)*] $(,)?
    ) => {
        use crate::module::state::one_line;

        impl From<wit::Verdict> for host::Verdict {
            fn from(verdict: wit::Verdict) -> Self {
                match verdict {
                    wit::Verdict::Delivered => host::Verdict::Delivered,
                    wit::Verdict::Retry(advice) => host::Verdict::Retry(host::RetryAdvice {
                        reason: one_line(&advice.reason),
                        after_ms: advice.after_ms,
                    }),
                    wit::Verdict::Partial(partial) => host::Verdict::Partial(host::PartialFailure {
                        retry: partial.retry,
                        refused: partial.refused.into_iter().map(Into::into).collect(),
                    }),
                    wit::Verdict::TooLarge => host::Verdict::TooLarge,
                    wit::Verdict::Refused(reason) => host::Verdict::Refused(one_line(&reason)),
                    $($verdict_arms)*
                }
            }
        }

        impl From<host::Enrichment> for wit::Enrichment {
            fn from(e: host::Enrichment) -> Self {
                wit::Enrichment {
                    host_name: e.host_name,
                    machine_id: e.machine_id,
                    sluice_version: e.sluice_version,
                    tags: e.tags,
                }
            }
        }

        /// Copies `columns` into `batch`, reusing its allocations.
        pub fn fill_batch(batch: &mut wit::Batch, columns: &host::Columns) {
            refill(&mut batch.ends, &columns.ends);
            refill(&mut batch.times_ms, &columns.times_ms);
            refill(&mut batch.ingest_times, &columns.ingest_times);
            refill(&mut batch.ids_high, &columns.ids_high);
            refill(&mut batch.ids_low, &columns.ids_low);
        }

        fn refill<T: Copy>(to: &mut Vec<T>, from: &[T]) {
            to.clear();
            to.extend_from_slice(from);
        }

        pub fn empty_batch() -> wit::Batch {
            wit::Batch {
                ends: Vec::new(),
                times_ms: Vec::new(),
                ingest_times: Vec::new(),
                ids_high: Vec::new(),
                ids_low: Vec::new(),
            }
        }

        fn transport(transport: wit::Transport) -> host::Transport {
            match transport {
                wit::Transport::Http => host::Transport::Http,
                wit::Transport::Stream => host::Transport::Stream,
                wit::Transport::Datagram => host::Transport::Datagram,
                $($transport_arms)*
            }
        }

        /// A module's description as every version has it: its credential required
        /// (`auth`: the header's name and prefix), its endpoint written by its
        /// destinations. 0.6.0 adds to it.
        fn described(
            name: String,
            version: String,
            transport_kind: wit::Transport,
            batch: wit::BatchLimits,
            auth: Option<(String, String)>,
            settings: Vec<wit::SettingDoc>,
        ) -> host::Info {
            host::Info {
                name,
                version,
                transport: transport(transport_kind),
                batch: host::BatchLimits {
                    max_events: batch.max_events,
                    max_bytes: batch.max_bytes,
                },
                auth: auth.map(|(name, prefix)| host::AuthHeader {
                    name,
                    prefix,
                    optional: false,
                }),
                endpoint_choice: None,
                settings: settings
                    .into_iter()
                    .map(|doc| host::SettingDoc {
                        name: doc.name,
                        description: one_line(&doc.description),
                        default_value: doc.default_value,
                    })
                    .collect(),
            }
        }

        impl From<wit::Payload> for host::Payload {
            fn from(payload: wit::Payload) -> Self {
                host::Payload {
                    text: payload.text,
                    pieces: payload.pieces,
                }
            }
        }

        impl From<wit::Request> for host::Request {
            fn from(request: wit::Request) -> Self {
                match request {
                    wit::Request::Http(http) => host::Request::Http(host::HttpRequest {
                        method: http.method,
                        path: http.path,
                        headers: http.headers,
                        body: http.body.into(),
                        compression: match http.compression {
                            wit::Compression::None => host::Compression::None,
                            wit::Compression::Gzip => host::Compression::Gzip,
                        },
                        events: http.events,
                    }),
                    wit::Request::Messages(framed) => {
                        host::Request::Messages(host::FramedMessages {
                            messages: framed.messages.into(),
                            message_ends: framed.message_ends,
                            events: framed.events,
                        })
                    }
                    $($request_arms)*
                }
            }
        }

        impl From<wit::Refusal> for host::Refusal {
            fn from(refusal: wit::Refusal) -> Self {
                host::Refusal {
                    event: refusal.event,
                    reason: one_line(&refusal.reason),
                }
            }
        }

        impl From<wit::Formatted> for host::Formatted {
            fn from(formatted: wit::Formatted) -> Self {
                host::Formatted {
                    requests: formatted.requests.into_iter().map(Into::into).collect(),
                    refused: formatted.refused.into_iter().map(Into::into).collect(),
                }
            }
        }

        impl From<wit::FormatError> for host::FormatError {
            fn from(error: wit::FormatError) -> Self {
                match error {
                    wit::FormatError::InvalidSetting(problem) => {
                        host::FormatError::InvalidSetting(host::SettingProblem {
                            key: one_line(&problem.key),
                            problem: one_line(&problem.problem),
                        })
                    }
                    wit::FormatError::Failed(reason) => host::FormatError::Failed(one_line(&reason)),
                }
            }
        }

        impl From<host::HttpResponse> for wit::HttpResponse {
            fn from(response: host::HttpResponse) -> Self {
                wit::HttpResponse {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                    truncated: response.truncated,
                }
            }
        }

        impl From<host::SentRequest> for wit::SentRequest {
            fn from(request: host::SentRequest) -> Self {
                wit::SentRequest {
                    path: request.path,
                    event_count: request.event_count,
                }
            }
        }
    };
}

pub(super) use shared_conversions;

/// The conversions of acknowledgements and queries (0.4.0 on), expanded as
/// [`shared_conversions!`] is.
macro_rules! acknowledgement_conversions {
    () => {
        impl From<wit::Query> for host::Query {
            fn from(query: wit::Query) -> Self {
                host::Query {
                    method: query.method,
                    path: query.path,
                    headers: query.headers,
                    body: query.body,
                }
            }
        }

        impl From<wit::ConnectionCheck> for host::ConnectionCheck {
            fn from(check: wit::ConnectionCheck) -> Self {
                host::ConnectionCheck {
                    query: check.query.into(),
                    accepted: check.accepted,
                    unauthorized: check.unauthorized,
                }
            }
        }

        impl From<wit::AckState> for host::AckState {
            fn from(state: wit::AckState) -> Self {
                match state {
                    wit::AckState::Confirmed => host::AckState::Confirmed,
                    wit::AckState::Waiting => host::AckState::Waiting,
                    wit::AckState::Lost => host::AckState::Lost,
                }
            }
        }
    };
}

pub(super) use acknowledgement_conversions;

/// A module's description before 0.6.0, expanded as [`shared_conversions!`] is: its
/// credential was always required, and its destinations always wrote an `endpoint`.
macro_rules! legacy_info_conversion {
    () => {
        impl From<wit::Info> for host::Info {
            fn from(info: wit::Info) -> Self {
                let auth = info.auth.map(|auth| (auth.name, auth.prefix));
                described(
                    info.name,
                    info.version,
                    info.transport,
                    info.batch,
                    auth,
                    info.settings,
                )
            }
        }
    };
}

pub(super) use legacy_info_conversion;

/// The conversions of the versions with the publish transport (0.5.0 on), expanded as
/// [`shared_conversions!`] is.
macro_rules! publishing_conversions {
    () => {
        crate::module::convert::shared_conversions!(
            verdicts: [wit::Verdict::Pending(ticket) => host::Verdict::Pending(ticket),],
            transports: [wit::Transport::Publish => host::Transport::Publish,],
            requests: [wit::Request::Publish(published) => {
                host::Request::Publish(host::PublishedMessages {
                    messages: host::FramedMessages {
                        messages: published.messages.into(),
                        message_ends: published.message_ends,
                        events: published.events,
                    },
                    subjects: published.subjects,
                    subject_of: published.subject_of,
                })
            }],
        );
        crate::module::convert::acknowledgement_conversions!();
    };
}

pub(super) use publishing_conversions;

/// The latest version.
pub mod current {
    use sluice_contract::types as host;

    use super::super::bindings::types as wit;

    super::publishing_conversions!();

    impl From<wit::Info> for host::Info {
        fn from(info: wit::Info) -> Self {
            let optional = info.auth.as_ref().is_some_and(|auth| auth.optional);
            let auth = info.auth.map(|auth| (auth.name, auth.prefix));
            let mut converted = described(
                info.name,
                info.version,
                info.transport,
                info.batch,
                auth,
                info.settings,
            );
            if let Some(auth) = &mut converted.auth {
                auth.optional = optional;
            }
            converted.endpoint_choice = info.endpoint_choice.map(|choice| host::EndpointChoice {
                setting: choice.setting,
                endpoints: choice.endpoints,
            });
            converted
        }
    }
}
