//! Compile-time behaviour of `#[trace]` and `#[trace_impl]`: misuse gives a clear error at the
//! right place (`ui/fail_*.rs` with their `.stderr`), and the supported shapes compile
//! (`ui/pass_*.rs`).
//!
//! The `.stderr` snapshots are pinned to one toolchain (compiler messages change between
//! releases): on another one the test only checks the pass cases. Regenerate them with
//! `TRYBUILD=overwrite cargo test -p osprofiler-macros --test ui` and review the diff.

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
    } else {
        eprintln!("compile-fail snapshots are pinned to {PINNED_RUSTC}x: skipped");
    }
}
