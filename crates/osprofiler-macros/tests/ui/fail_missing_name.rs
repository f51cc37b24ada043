#[osprofiler::trace(hide_args)]
fn f() {}

fn main() {}
