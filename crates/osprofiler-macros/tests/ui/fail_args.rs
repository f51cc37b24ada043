use osprofiler::{trace, trace_impl};

#[trace(name = "")]
fn empty_name() {}

#[trace(name = "db", hide_result = false, hide_result = true)]
fn given_twice() {}

#[trace(name = "db", trace_private)]
fn impl_only_key() {}

#[trace(name = "db", skip = true)]
fn skip_with_value() {}

#[trace(name = "db", info)]
fn info_without_value() {}

struct S;

#[trace_impl(hide_result = false)]
impl S {
    pub fn f(&self) {}
}

#[trace_impl(name = "rpc", skip)]
impl S {
    pub fn g(&self) {}
}

fn main() {}
