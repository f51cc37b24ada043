use osprofiler::{trace, trace_impl};

struct S;

#[trace(name = "db")]
impl S {}

#[trace_impl(name = "rpc")]
mod not_an_impl {}

trait Service {
    #[trace(name = "rpc")]
    fn declared_only(&self);
}

fn main() {}
