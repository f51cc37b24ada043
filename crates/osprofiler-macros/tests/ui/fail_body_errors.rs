// Errors in the user's own code point at the user's code, not at the attribute.
use osprofiler::trace;

#[derive(Debug)]
struct E;

#[trace(name = "db")]
fn wrong_return_type() -> u32 {
    "not a number"
}

#[trace(name = "db")]
fn question_mark_needs_result() -> u32 {
    let x: Result<u32, E> = Ok(1);
    x?
}

#[trace(name = "db")]
async fn async_wrong_return_type() -> u32 {
    "not a number"
}

fn main() {}
