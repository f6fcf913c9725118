//! A module that exports `sluice:module/formatting@9.0.0`, for the test that the host
//! refuses contract versions it does not serve with a clear message.

#![allow(unsafe_code, reason = "wit-bindgen's generated exports")]

mod bindings {
    wit_bindgen::generate!({
        inline: "
            package sluice:module@9.0.0;
            interface formatting {
                describe: func() -> string;
            }
            world formatter {
                export formatting;
            }
        ",
        world: "formatter",
    });
}

struct FutureModule;

impl bindings::exports::sluice::module::formatting::Guest for FutureModule {
    fn describe() -> String {
        "from the future".into()
    }
}

bindings::export!(FutureModule with_types_in bindings);
