#[osprofiler::trace(name = "db")]
struct S;

#[osprofiler::trace_impl(name = "rpc")]
fn f() {}

fn main() {}
