//! A module's exports in the host's types, whatever contract version it implements:
//! the rest of the host calls [`Exports`] and never names a version. This file owns the
//! dispatch to the versions; the latest is implemented in `current.rs`, each older one
//! served in a file of its own (`v0_5.rs`, `v0_4.rs`, `v0_3.rs`) that adapts it.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Resource};

use sluice_contract::types::{
    AckState, Columns, ConnectionCheck, Enrichment, FormatError, Formatted, HttpResponse, Info,
    Query, SentRequest, Verdict,
};

use super::bindings::FormatterPre;
use super::event_text::EventText;
use super::state::ModuleState;

/// Every call the host makes into a formatter module.
pub(super) trait Exports: Send {
    fn describe(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Info>;

    fn configure(
        &self,
        store: &mut Store<ModuleState>,
        settings: &[(String, String)],
        enrichment: Enrichment,
    ) -> wasmtime::Result<Result<(), FormatError>>;

    /// Formats the batch of `columns`, whose text the module reads through `text`.
    fn format(
        &mut self,
        store: &mut Store<ModuleState>,
        columns: &Columns,
        text: Resource<EventText>,
    ) -> wasmtime::Result<Result<Formatted, FormatError>>;

    fn classify(
        &self,
        store: &mut Store<ModuleState>,
        response: HttpResponse,
        request: SentRequest,
    ) -> wasmtime::Result<Verdict>;

    fn check_connection(
        &self,
        store: &mut Store<ModuleState>,
    ) -> wasmtime::Result<Option<ConnectionCheck>>;

    fn ack_query(
        &self,
        store: &mut Store<ModuleState>,
        tickets: &[String],
    ) -> wasmtime::Result<Option<Query>>;

    fn read_acks(
        &self,
        store: &mut Store<ModuleState>,
        response: HttpResponse,
        tickets: &[String],
    ) -> wasmtime::Result<Result<Vec<AckState>, String>>;
}

/// A module pre-linked for the contract version it implements.
#[derive(Clone)]
pub(super) enum Pre {
    Current(FormatterPre<ModuleState>),
    V0_5(v0_5::FormatterPre<ModuleState>),
    V0_4(v0_4::FormatterPre<ModuleState>),
    V0_3(v0_3::FormatterPre<ModuleState>),
}

impl Pre {
    /// The pre-linked module as the bindings of `version` (a served one) see it.
    pub fn new(version: &str, pre: InstancePre<ModuleState>) -> wasmtime::Result<Pre> {
        Ok(match version {
            v0_5::VERSION => Pre::V0_5(v0_5::FormatterPre::new(pre)?),
            v0_4::VERSION => Pre::V0_4(v0_4::FormatterPre::new(pre)?),
            v0_3::VERSION => Pre::V0_3(v0_3::FormatterPre::new(pre)?),
            _ => Pre::Current(FormatterPre::new(pre)?),
        })
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::Current(pre) => pre.engine(),
            Pre::V0_5(pre) => pre.engine(),
            Pre::V0_4(pre) => pre.engine(),
            Pre::V0_3(pre) => pre.engine(),
        }
    }

    pub fn instantiate(
        &self,
        store: &mut Store<ModuleState>,
    ) -> wasmtime::Result<Box<dyn Exports>> {
        Ok(match self {
            Pre::Current(pre) => Box::new(current::Current::instantiate(pre, store)?),
            Pre::V0_5(pre) => Box::new(v0_5::Exported::instantiate(pre, store)?),
            Pre::V0_4(pre) => Box::new(v0_4::Exported::instantiate(pre, store)?),
            Pre::V0_3(pre) => Box::new(v0_3::Exported::instantiate(pre, store)?),
        })
    }
}

/// The calls every served version makes alike, expanded in an `impl Exports` for a
/// struct with the version's `bindings` and `batch`, where its generated types are `wit`
/// and its conversions `convert`.
macro_rules! shared_exports {
    () => {
        fn describe(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Info> {
            Ok(self
                .bindings
                .sluice_module_formatting()
                .call_describe(store)?
                .into())
        }

        fn configure(
            &self,
            store: &mut Store<ModuleState>,
            settings: &[(String, String)],
            enrichment: Enrichment,
        ) -> wasmtime::Result<Result<(), FormatError>> {
            let enrichment = wit::Enrichment::from(enrichment);
            let answer = self
                .bindings
                .sluice_module_formatting()
                // Once per instance: the bindings take a `Vec`.
                .call_configure(store, &settings.to_vec(), &enrichment)?;
            Ok(answer.map_err(FormatError::from))
        }

        fn format(
            &mut self,
            store: &mut Store<ModuleState>,
            columns: &Columns,
            text: Resource<EventText>,
        ) -> wasmtime::Result<Result<Formatted, FormatError>> {
            convert::fill_batch(&mut self.batch, columns);
            let answer =
                self.bindings
                    .sluice_module_formatting()
                    .call_format(store, &self.batch, text)?;
            Ok(answer.map(Formatted::from).map_err(FormatError::from))
        }

        fn classify(
            &self,
            store: &mut Store<ModuleState>,
            response: HttpResponse,
            request: SentRequest,
        ) -> wasmtime::Result<Verdict> {
            let response = wit::HttpResponse::from(response);
            let request = wit::SentRequest::from(request);
            Ok(self
                .bindings
                .sluice_module_formatting()
                .call_classify(store, &response, &request)?
                .into())
        }

        fn check_connection(
            &self,
            store: &mut Store<ModuleState>,
        ) -> wasmtime::Result<Option<ConnectionCheck>> {
            let check = self
                .bindings
                .sluice_module_formatting()
                .call_check_connection(store)?;
            Ok(check.map(ConnectionCheck::from))
        }
    };
}

pub(super) use shared_exports;

/// The acknowledgement calls (0.4.0 on), expanded as [`shared_exports!`] is.
macro_rules! acknowledgement_exports {
    () => {
        fn ack_query(
            &self,
            store: &mut Store<ModuleState>,
            tickets: &[String],
        ) -> wasmtime::Result<Option<Query>> {
            let query = self
                .bindings
                .sluice_module_formatting()
                .call_ack_query(store, tickets)?;
            Ok(query.map(Query::from))
        }

        fn read_acks(
            &self,
            store: &mut Store<ModuleState>,
            response: HttpResponse,
            tickets: &[String],
        ) -> wasmtime::Result<Result<Vec<AckState>, String>> {
            let response = wit::HttpResponse::from(response);
            let answer = self
                .bindings
                .sluice_module_formatting()
                .call_read_acks(store, &response, tickets)?;
            Ok(answer
                .map(|states| states.into_iter().map(AckState::from).collect())
                .map_err(|reason| crate::module::state::one_line(&reason)))
        }
    };
}

pub(super) use acknowledgement_exports;

/// What every older version has alike, expanded in its file, where its bindings are
/// `Formatter` and `FormatterPre`, its types `wit` and its host interface `wit_host`: the
/// function that adds its imports to a linker, its imports (each passes the call on to
/// the latest's), and `Exported`, a module of the version with its batch columns as its
/// bindings lower them.
macro_rules! legacy_version {
    () => {
        /// Adds the imports of this version's modules to a linker that has the latest's.
        pub fn add_to_linker(
            linker: &mut wasmtime::component::Linker<ModuleState>,
        ) -> wasmtime::Result<()> {
            Formatter::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
        }

        pub struct Exported {
            bindings: Formatter,
            batch: wit::Batch,
        }

        impl Exported {
            pub fn instantiate(
                pre: &FormatterPre<ModuleState>,
                store: &mut Store<ModuleState>,
            ) -> wasmtime::Result<Self> {
                Ok(Exported {
                    bindings: pre.instantiate(store)?,
                    batch: convert::empty_batch(),
                })
            }
        }

        impl wit::Host for ModuleState {}

        impl wit::HostEventText for ModuleState {
            fn read(&mut self, text: Resource<EventText>) -> wasmtime::Result<String> {
                crate::module::bindings::types::HostEventText::read(self, text)
            }

            fn drop(&mut self, text: Resource<EventText>) -> wasmtime::Result<()> {
                crate::module::bindings::types::HostEventText::drop(self, text)
            }
        }

        impl wit_host::Host for ModuleState {
            fn log(&mut self, level: wit_host::Level, message: String) {
                use crate::module::bindings::sluice::module::host::{Host, Level};
                let level = match level {
                    wit_host::Level::Trace => Level::Trace,
                    wit_host::Level::Debug => Level::Debug,
                    wit_host::Level::Info => Level::Info,
                    wit_host::Level::Warn => Level::Warn,
                    wit_host::Level::Error => Level::Error,
                };
                Host::log(self, level, message);
            }

            fn now_ms(&mut self) -> i64 {
                crate::module::bindings::sluice::module::host::Host::now_ms(self)
            }

            fn sign(
                &mut self,
                key_name: String,
                algorithm: wit_host::SignAlgorithm,
                data: Vec<u8>,
            ) -> Result<Vec<u8>, String> {
                use crate::module::bindings::sluice::module::host::{Host, SignAlgorithm};
                let algorithm = match algorithm {
                    wit_host::SignAlgorithm::HmacSha256 => SignAlgorithm::HmacSha256,
                };
                Host::sign(self, key_name, algorithm, data)
            }
        }
    };
}

pub(super) use legacy_version;

mod current;
pub(super) mod v0_3;
pub(in crate::module) mod v0_4;
pub(in crate::module) mod v0_5;
