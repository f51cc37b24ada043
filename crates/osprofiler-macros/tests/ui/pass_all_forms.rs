use osprofiler::{trace, trace_impl};

#[trace(name = "db")]
fn plain(a: u32) -> u32 {
    a
}

#[trace("db", hide_args, hide_result = false)]
fn with_result(a: u32) -> Result<u32, std::io::Error> {
    Ok(a)
}

#[trace(name = "db", info = serde_json::json!({"k": 1}))]
async fn asynchronous<T: std::fmt::Debug + Send>(t: T) -> T {
    t
}

struct S;

#[trace_impl(name = "rpc", trace_private = true)]
impl S {
    pub fn a(&self) {}
    fn b(&mut self, (x, y): (u8, u8)) -> u8 {
        x + y
    }
    #[notrace]
    pub fn c() {}
    pub async fn d(&self) {}
}

fn main() {
    let _ = plain(1);
    let _ = with_result(1);
    let _ = asynchronous(1u8);
    S.a();
    let _ = S.b((1, 2));
    S::c();
    let _ = S.d();
}
