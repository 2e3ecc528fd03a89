//! Generates the Salesforce Pub/Sub API server from the host's `proto/pubsub_api.proto` (one
//! service definition for the client and the emulator) with a pure-Rust protobuf compiler
//! (`protox`), so building needs no `protoc`.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest_dir.join("../proto");
    let proto = dir.join("pubsub_api.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [&dir])
        .unwrap_or_else(|e| panic!("compiling {}: {e}", proto.display()));
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating the Pub/Sub server: {e}"));
}
