//! `sqlite://PATH`: the embedded default store. The SQL driver ([`super::sql`]) serves it,
//! with PostgreSQL and MySQL; this path is kept for code written before that.

pub use super::sql::{decode_data, encode_data, SqliteDriver, BUSY_TIMEOUT};
