// Shapes the attributes must keep compiling, with no warning from the generated code.
#![deny(warnings, unused, clippy::all)]
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use osprofiler::{trace, trace_impl};

#[trace(name = "db")]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[trace(name = "db")]
fn where_clause<T, U>(t: T, u: U) -> (T, U)
where
    T: Clone + Debug,
    U: Default,
{
    (t, u)
}

#[trace(name = "db")]
fn impl_trait_arg(it: impl IntoIterator<Item = u8>) -> impl Iterator<Item = u8> {
    it.into_iter().map(|x| x + 1)
}

#[trace(name = "db")]
fn never_returns() -> ! {
    loop {
        std::thread::park();
    }
}

#[trace(name = "db")]
fn r#type(r#in: u8) -> u8 {
    #![allow(clippy::identity_op)]
    fn nested(x: u8) -> u8 {
        x
    }
    nested(r#in) + 0
}

#[trace(name = "db")]
fn unit_with_early_return(flag: bool) {
    if flag {
        return;
    }
    let _ = flag;
}

#[trace(name = "db")]
fn boxed_dyn_error(s: &str) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Ok(s.parse()?)
}

#[trace(name = "db", hide_result = false)]
async fn async_borrows<'a>(items: &'a [u8], key: &str) -> Option<&'a u8> {
    let _ = key;
    items.first()
}

#[trace(name = "db")]
fn returns_future(n: u8) -> impl Future<Output = u8> {
    async move { n }
}

struct Counter(u32);

impl Counter {
    #[trace(name = "db")]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.get_mut().0 += 1;
        1
    }

    #[trace(name = "db")]
    fn field_mut(&mut self) -> &mut u32 {
        &mut self.0
    }

    #[trace(name = "db")]
    fn uses_self_type() -> Self {
        Self(0)
    }
}

trait Named {
    #[trace(name = "db")]
    fn default_method(&self) -> &'static str {
        "named"
    }
    fn required(&self) -> u8;
    fn generic<T: Debug>(&self, t: T) -> T;
}

#[trace_impl(name = "rpc", trace_private, trace_static_methods, hide_result = false)]
impl<T: Debug + Send + Sync> Named for Vec<T> {
    fn required(&self) -> u8 {
        self.len() as u8
    }
    fn generic<U: Debug>(&self, u: U) -> U {
        u
    }
}

pub trait Store {
    fn get(&self, k: u32) -> impl Future<Output = Option<u32>> + Send;
}

#[trace_impl(name = "db")]
impl Store for Counter {
    async fn get(&self, k: u32) -> Option<u32> {
        Some(k + self.0)
    }
}

#[async_trait::async_trait]
pub trait Legacy {
    async fn call(&self, x: u32) -> u32;
}

#[async_trait::async_trait]
impl Legacy for Counter {
    #[trace(name = "rpc")]
    async fn call(&self, x: u32) -> u32 {
        x + self.0
    }
}

unsafe trait Raw {
    unsafe fn read(&self, p: *const u8) -> u8;
}

#[trace_impl(name = "raw")]
unsafe impl Raw for Counter {
    unsafe fn read(&self, p: *const u8) -> u8 {
        // SAFETY: the caller's promise.
        unsafe { *p }
    }
}

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

fn main() {
    let _ = lifetimes("a", "b");
    let _ = where_clause(1u8, 2u16);
    let _ = impl_trait_arg([1u8, 2]).count();
    let _ = r#type(1);
    unit_with_early_return(true);
    let _ = boxed_dyn_error("1");
    let _ = assert_send(async_borrows(&[1], "k"));
    let _ = returns_future(1);
    let mut c = Counter(0);
    let _ = Pin::new(&mut c).pinned();
    *c.field_mut() += 1;
    let _ = Counter::uses_self_type();
    let v = vec![1u8];
    let _ = (v.default_method(), v.required(), v.generic("x"));
    let _ = assert_send(c.get(1));
    let _ = c.call(1);
    // SAFETY: a live byte.
    let _ = unsafe { c.read(&1u8) };
}
