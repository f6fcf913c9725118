//! Filter modules: for a rule a filter policy cannot say (a list in settings, a lookup,
//! arithmetic over fields), a module that decides, event by event, which events of a
//! batch a destination is sent. One type that implements [`Filter`] and one call to
//! [`export_filter!`](crate::export_filter).
//!
//! ```
//! use sluice_guest::{Event, FormatError, Settings};
//! use sluice_guest::filter::{Filter, FilterInfo};
//!
//! /// Drops the events of one user.
//! struct NotAlice;
//!
//! impl Filter for NotAlice {
//!     fn info() -> FilterInfo {
//!         FilterInfo::new("not-alice", "0.1.0", Vec::new())
//!     }
//!     fn new(_settings: &Settings) -> Result<Self, FormatError> {
//!         Ok(NotAlice)
//!     }
//!     fn keep(&self, event: &Event<'_>) -> bool {
//!         event.field("user") != Some("alice".into())
//!     }
//! }
//!
//! sluice_guest::export_filter!(NotAlice);
//! ```

use crate::{Event, FormatError, SettingDoc, Settings};

/// What a filter module tells the host about itself.
#[derive(Debug, Clone)]
pub struct FilterInfo {
    /// Its name, as destinations name it (`filter_module = "..."`).
    pub name: String,
    /// Its version, logged with every load.
    pub version: String,
    /// The settings it accepts (`filter_settings`); any other is refused before it starts.
    pub settings: Vec<SettingDoc>,
}

impl FilterInfo {
    /// A filter named `name`, at `version`, accepting `settings`.
    pub fn new(name: &str, version: &str, settings: Vec<SettingDoc>) -> Self {
        FilterInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            settings,
        }
    }
}

/// A filter module: made once per instance from its settings, then asked per event.
pub trait Filter: Sized {
    /// Its name, version and settings; called before anything else.
    fn info() -> FilterInfo;

    /// The filter of one destination, from its `filter_settings` (with the defaults
    /// `info` declares). An error here is a setting to fix: `sluice check` shows it.
    fn new(settings: &Settings) -> Result<Self, FormatError>;

    /// Whether the destination is sent `event`.
    fn keep(&self, event: &Event<'_>) -> bool;
}

/// Exports `$filter`, a [`Filter`], as the module's `filtering` interface.
#[macro_export]
macro_rules! export_filter {
    ($filter:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                /// The filter `configure` made; WebAssembly runs one thread.
                static CONFIGURED: ::std::cell::RefCell<::std::option::Option<$filter>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Exported;
            impl $crate::__private::FilteringGuest for Exported {
                fn describe() -> $crate::__private::WitFilterInfo {
                    $crate::__private::filter_describe::<$filter>()
                }
                fn configure(
                    settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), $crate::FormatError> {
                    let filter = $crate::__private::filter_configure::<$filter>(settings)?;
                    CONFIGURED.with_borrow_mut(|configured| *configured = ::std::option::Option::Some(filter));
                    ::std::result::Result::Ok(())
                }
                fn keep(
                    batch: $crate::__private::WitBatch,
                    text: &$crate::__private::WitEventText,
                ) -> ::std::vec::Vec<bool> {
                    CONFIGURED.with_borrow(|configured| {
                        $crate::__private::filter_keep(configured.as_ref(), batch, text)
                    })
                }
            }
            $crate::__private::__export_filter_bindings!(Exported with_types_in $crate::__private::wit_filter);
        };
    };
}
