//! `ledgerlink:sync/schedule` for a host that has no scheduler: the stock `wasmtime run`, which
//! calls one function and exits. Composed into the Ledgerlink component
//! (`wasm-tools compose`), it lets that host load a component that imports `schedule`, and it
//! tells the guest the truth: nothing can run later here.
//!
//! - `run-later` answers `err`, naming the job, so a flow reports it (a retry it could not book)
//!   instead of believing it was booked;
//! - `cancel` answers `false`: there is never a pending run to cancel.

#[allow(warnings)]
#[rustfmt::skip]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "package ledgerlink:cli-host;
                 world schedule-provider { export ledgerlink:sync/schedule@0.1.0; }",
        world: "ledgerlink:cli-host/schedule-provider",
    });
}

use bindings::exports::ledgerlink::sync::schedule::Guest;

struct NoScheduler;

impl Guest for NoScheduler {
    fn run_later(name: String, _args: String, at: String) -> Result<String, String> {
        Err(format!(
            "this host has no scheduler: job {name:?} at {at} was not scheduled"
        ))
    }

    fn cancel(_id: String) -> bool {
        false
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(NoScheduler with_types_in bindings);
