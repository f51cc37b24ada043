use osprofiler::trace;

#[trace(name = "db", info = 5)]
fn info_not_an_object() {}

#[trace(name = "db", info = "text")]
fn info_a_string() {}

fn main() {}
