//! Builds the plugin component for `wasm32-wasip2` so that `cargo build`/`cargo run -p ledgerlink`
//! on a fresh clone embeds it: no separate step, no checked-in binary.
//!
//! The nested cargo uses its own target directory (`target/plugin-component`) so that it never
//! waits on the lock of the outer build. Set `LEDGERLINK_PLUGIN_WASM=/path/x.wasm` to embed a
//! prebuilt component instead (CI caches, cross builds).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dest = out_dir.join("ledgerlink_plugin.wasm");

    println!("cargo:rerun-if-env-changed=LEDGERLINK_PLUGIN_WASM");
    if let Ok(prebuilt) = std::env::var("LEDGERLINK_PLUGIN_WASM") {
        println!("cargo:rerun-if-changed={prebuilt}");
        std::fs::copy(&prebuilt, &dest).expect("copy LEDGERLINK_PLUGIN_WASM");
        return;
    }
    for watched in ["plugin/src", "plugin/Cargo.toml", "wit"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"))
        .join("plugin-component");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args([
            "build",
            "-p",
            "ledgerlink-plugin",
            "--lib",
            "--release",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
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
    let status = cmd.status().expect("run cargo for the plugin component");
    if !status.success() {
        panic!("building the plugin for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)");
    }
    let built = target_dir.join("wasm32-wasip2/release/ledgerlink_plugin.wasm");
    std::fs::copy(&built, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
}
