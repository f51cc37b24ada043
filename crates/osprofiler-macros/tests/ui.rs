//! Compile-time behaviour of `#[trace]` and `#[trace_impl]`: misuse gives a clear error at the
//! right place (`ui/fail_*.rs` with their `.stderr`), and the supported shapes compile
//! (`ui/pass_*.rs`).
//!
//! The `.stderr` snapshots are pinned to one toolchain (compiler messages change between
//! releases; `rust-toolchain.toml` names it): on another one the test only checks the pass
//! cases, and in CI (`CI=true`) it fails instead, so the snapshots always run there.
//! Regenerate them with
//! `TRYBUILD=overwrite cargo test -p osprofiler-macros --test ui` and review the diff.

use osprofiler_testkit::in_ci;

/// The toolchain the `.stderr` files were written with.
const PINNED_RUSTC: &str = "rustc 1.95.";

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    if rustc_version().starts_with(PINNED_RUSTC) {
        t.compile_fail("tests/ui/fail_*.rs");
    } else if in_ci() {
        panic!(
            "the compile-fail snapshots are pinned to {PINNED_RUSTC}x (rust-toolchain.toml) but \
             this is {}: CI must run them",
            rustc_version().trim()
        );
    } else {
        eprintln!("SKIPPED: compile-fail snapshots are pinned to {PINNED_RUSTC}x");
    }
}
