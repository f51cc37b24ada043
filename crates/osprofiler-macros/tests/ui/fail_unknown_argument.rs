#[osprofiler::trace(name = "db", hide_ags)]
fn f() {}

fn main() {}
