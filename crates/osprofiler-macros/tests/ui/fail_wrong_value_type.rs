#[osprofiler::trace(name = 42)]
fn f() {}

#[osprofiler::trace(name = "db", hide_result = "no")]
fn g() {}

fn main() {}
