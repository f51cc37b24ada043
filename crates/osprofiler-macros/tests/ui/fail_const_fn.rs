#[osprofiler::trace(name = "db")]
const fn f() -> u8 {
    1
}

fn main() {}
