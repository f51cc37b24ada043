use osprofiler::trace_impl;

struct S;

#[trace_impl(name = "rpc")]
impl S {
    #[trace(trace_private)]
    pub fn impl_only_key_on_a_method(&self) {}

    #[notrace(please)]
    pub fn notrace_with_args(&self) {}

    #[trace]
    #[notrace]
    pub fn both(&self) {}

    #[trace(name = "db")]
    pub const fn constant(&self) -> u8 {
        1
    }
}

fn main() {}
