//! The compiled-component cache: Cranelift output is kept on disk, keyed by the component's
//! SHA-256, so a CLI invocation after the first skips compilation. Wasmtime checks on load that
//! the artifact matches this engine's version and settings; a mismatch just recompiles.
//!
//! Location: `$LEDGERLINK_CACHE_DIR`, else `$XDG_CACHE_HOME/ledgerlink`, else
//! `$HOME/.cache/ledgerlink`. `LEDGERLINK_CACHE_DIR=off` disables it.

use anyhow::Result;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use wasmtime::component::Component;
use wasmtime::Engine;

fn cache_dir() -> Option<PathBuf> {
    match std::env::var("LEDGERLINK_CACHE_DIR") {
        Ok(dir) if dir == "off" => None,
        Ok(dir) => Some(PathBuf::from(dir)),
        Err(_) => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("ledgerlink")),
    }
}

/// Loads the compiled form of `bytes` from the cache, or compiles and stores it.
pub fn load_or_compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    let Some(dir) = cache_dir() else {
        return Ok(Component::new(engine, bytes)?);
    };
    let key = hex(&Sha256::digest(bytes));
    let path = dir.join(format!("{key}.cwasm"));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same cache; wasmtime
        // validates its header against the engine before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::debug!(
                "cache entry {} unusable ({e:#}); recompiling",
                path.display()
            ),
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Ok(serialized) = component.serialize() {
        // Write to a temporary name first so a concurrent reader never sees half a file.
        let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(component)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
