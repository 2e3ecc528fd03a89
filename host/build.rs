//! Builds the plugin component (and the test guest used by the sandbox tests) for
//! `wasm32-wasip2`, so that `cargo build`/`cargo run -p ledgerlink` on a fresh clone embeds the
//! plugin: no separate step, no checked-in binary.
//!
//! The nested cargo uses its own target directory (`target/plugin-component`) so that it never
//! waits on the lock of the outer build. Set `LEDGERLINK_PLUGIN_WASM=/path/x.wasm` to embed a
//! prebuilt plugin instead (CI caches, cross builds); the test guest is still built.
//!
//! It also generates the Salesforce Pub/Sub API client from `proto/pubsub_api.proto` with a
//! pure-Rust protobuf compiler (`protox`), so building needs no `protoc`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-env-changed=LEDGERLINK_PLUGIN_WASM");
    for watched in [
        "plugin/src",
        "plugin/Cargo.toml",
        "host/test-guest/src",
        "host/test-guest/Cargo.toml",
        "wit",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    pubsub_client(&manifest_dir);
    let prebuilt = std::env::var("LEDGERLINK_PLUGIN_WASM").ok();
    let mut packages = vec!["ledgerlink-test-guest"];
    if prebuilt.is_none() {
        packages.push("ledgerlink-plugin");
    }
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"))
        .join("plugin-component");
    build_components(&workspace, &target_dir, &packages);

    let built = target_dir.join("wasm32-wasip2/release");
    copy(
        &built.join("ledgerlink_test_guest.wasm"),
        &out_dir.join("ledgerlink_test_guest.wasm"),
    );
    match prebuilt {
        Some(path) => {
            println!("cargo:rerun-if-changed={path}");
            copy(Path::new(&path), &out_dir.join("ledgerlink_plugin.wasm"));
        }
        None => copy(
            &built.join("ledgerlink_plugin.wasm"),
            &out_dir.join("ledgerlink_plugin.wasm"),
        ),
    }
}

fn pubsub_client(manifest_dir: &Path) {
    let proto = manifest_dir.join("proto/pubsub_api.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [manifest_dir.join("proto")])
        .unwrap_or_else(|e| panic!("compiling {}: {e}", proto.display()));
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .build_transport(true)
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating the Pub/Sub client: {e}"));
}

fn build_components(workspace: &Path, target_dir: &Path, packages: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--lib", "--release", "--target", "wasm32-wasip2"]);
    for package in packages {
        cmd.args(["-p", package]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the components");
    if !status.success() {
        panic!("building {packages:?} for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)");
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}
