//! Misuse of the attributes gives clear compile errors (trybuild snapshots in `tests/ui/`).
//! Snapshots are pinned to the toolchain CI uses; refresh with `TRYBUILD=overwrite`.

#[test]
fn attributes_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
