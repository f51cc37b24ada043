//! The executors: [`Traced`] wraps any sqlx executor for a call, [`TracedPool`] wraps a pool
//! for good. Both record one point per statement and otherwise only delegate.

use std::fmt;

use either::Either;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use osprofiler_core::profiler;
use serde_json::Value;
use sqlx::Describe;
use sqlx::{Database, Error, Execute, Executor, Pool};

use crate::database::TracedDatabase;
use crate::info::start_info;
use crate::options::SqlTracing;
use crate::point::{Point, TracedFuture, TracedStream};
use crate::query::TracedQuery;

/// An executor whose statements are traced: made by [`SqlTracing::wrap`] or
/// [`TracedPool::wrap`] around `&pool`, `&mut *connection` or `&mut *transaction`.
///
/// ```no_run
/// # async fn f(pool: osprofiler_sqlx::TracedPool<sqlx::Sqlite>) -> Result<(), sqlx::Error> {
/// let mut tx = pool.begin().await?;
/// sqlx::query("INSERT INTO t (a) VALUES (?)")
///     .bind(1)
///     .execute(pool.wrap(&mut *tx))
///     .await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Traced<'t, E> {
    inner: E,
    tracing: &'t SqlTracing,
}

impl<'t, E> Traced<'t, E> {
    /// Wraps `inner`; its statements are traced as `tracing` says.
    pub fn new(inner: E, tracing: &'t SqlTracing) -> Self {
        Traced { inner, tracing }
    }

    /// The wrapped executor.
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: fmt::Debug> fmt::Debug for Traced<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traced")
            .field("inner", &self.inner)
            .field("tracing", &self.tracing)
            .finish()
    }
}

/// A query about to run: as it came when nothing is traced, else with its arguments taken
/// and its point made.
enum Begun<'q, DB: Database, Q> {
    Plain(Q),
    Traced(TracedQuery<'q, DB, Q>, Point<'q>),
}

/// The one check on the untraced path (tracing on and a profiler current); the rest runs only
/// when the statement is traced.
#[inline]
fn begin<'q, DB, Q>(tracing: &SqlTracing, query: Q) -> Begun<'q, DB, Q>
where
    DB: TracedDatabase,
    Q: Execute<'q, DB>,
{
    if !(tracing.is_enabled() && profiler::is_active()) {
        return Begun::Plain(query);
    }
    begin_traced(tracing, query)
}

#[inline(never)]
fn begin_traced<'q, DB, Q>(tracing: &SqlTracing, query: Q) -> Begun<'q, DB, Q>
where
    DB: TracedDatabase,
    Q: Execute<'q, DB>,
{
    let Some(fork) = profiler::get() else {
        return Begun::Plain(query);
    };
    let query = TracedQuery::new(query);
    let params = match query.arguments() {
        Ok(Some(arguments)) => DB::params_json(arguments),
        // No arguments: Python records an empty sequence.
        Ok(None) => Value::Array(Vec::new()),
        // A parameter failed to encode: the statement fails with that error before it runs.
        Err(()) => Value::Null,
    };
    let sql = query.sql();
    let point = Point::new(
        fork,
        tracing.name().clone(),
        start_info(sql, params),
        sql,
        DB::error_info,
    );
    Begun::Traced(query, point)
}

/// The point of a `prepare`: the statement and no parameters.
fn begin_prepare<'q, DB: TracedDatabase>(tracing: &SqlTracing, sql: &'q str) -> Option<Point<'q>> {
    if !(tracing.is_enabled() && profiler::is_active()) {
        return None;
    }
    let fork = profiler::get()?;
    Some(Point::new(
        fork,
        tracing.name().clone(),
        start_info(sql, Value::Array(Vec::new())),
        sql,
        DB::error_info,
    ))
}

type QueryResult<DB> = <DB as Database>::QueryResult;
type Row<DB> = <DB as Database>::Row;

impl<'c, E> Executor<'c> for Traced<'_, E>
where
    E: Executor<'c>,
    E::Database: TracedDatabase,
{
    type Database = E::Database;

    fn execute<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxFuture<'e, Result<QueryResult<Self::Database>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.execute(q),
            Begun::Traced(q, point) => Box::pin(TracedFuture::new(self.inner.execute(q), point)),
        }
    }

    fn execute_many<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxStream<'e, Result<QueryResult<Self::Database>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.execute_many(q),
            Begun::Traced(q, point) => {
                Box::pin(TracedStream::new(self.inner.execute_many(q), point))
            }
        }
    }

    fn fetch<'e, 'q: 'e, Q>(self, query: Q) -> BoxStream<'e, Result<Row<Self::Database>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.fetch(q),
            Begun::Traced(q, point) => Box::pin(TracedStream::new(self.inner.fetch(q), point)),
        }
    }

    fn fetch_many<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxStream<'e, Result<Either<QueryResult<Self::Database>, Row<Self::Database>>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.fetch_many(q),
            Begun::Traced(q, point) => Box::pin(TracedStream::new(self.inner.fetch_many(q), point)),
        }
    }

    fn fetch_all<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxFuture<'e, Result<Vec<Row<Self::Database>>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.fetch_all(q),
            Begun::Traced(q, point) => Box::pin(TracedFuture::new(self.inner.fetch_all(q), point)),
        }
    }

    fn fetch_one<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<Row<Self::Database>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.fetch_one(q),
            Begun::Traced(q, point) => Box::pin(TracedFuture::new(self.inner.fetch_one(q), point)),
        }
    }

    fn fetch_optional<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxFuture<'e, Result<Option<Row<Self::Database>>, Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Self::Database>,
    {
        match begin(self.tracing, query) {
            Begun::Plain(q) => self.inner.fetch_optional(q),
            Begun::Traced(q, point) => {
                Box::pin(TracedFuture::new(self.inner.fetch_optional(q), point))
            }
        }
    }

    fn prepare<'e, 'q: 'e>(
        self,
        query: &'q str,
    ) -> BoxFuture<'e, Result<<Self::Database as Database>::Statement<'q>, Error>>
    where
        'c: 'e,
    {
        match begin_prepare::<Self::Database>(self.tracing, query) {
            None => self.inner.prepare(query),
            Some(point) => Box::pin(TracedFuture::new(self.inner.prepare(query), point)),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [<Self::Database as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Self::Database as Database>::Statement<'q>, Error>>
    where
        'c: 'e,
    {
        match begin_prepare::<Self::Database>(self.tracing, sql) {
            None => self.inner.prepare_with(sql, parameters),
            Some(point) => Box::pin(TracedFuture::new(
                self.inner.prepare_with(sql, parameters),
                point,
            )),
        }
    }

    /// Not traced: sqlx's macros use it at build time.
    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Self::Database>, Error>>
    where
        'c: 'e,
    {
        self.inner.describe(sql)
    }
}

/// A pool whose statements are traced: `query.fetch_all(&traced_pool)` records a point per
/// statement when tracing is on and a profiler is current, and only delegates otherwise.
///
/// Cloning is cheap (it clones the pool handle). Statements run in a transaction or on an
/// acquired connection are traced through [`TracedPool::wrap`].
#[derive(Debug)]
pub struct TracedPool<DB: Database> {
    pool: Pool<DB>,
    tracing: SqlTracing,
}

// Not derived: a derive would ask `DB: Clone`, which no sqlx database type is.
impl<DB: Database> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        TracedPool {
            pool: self.pool.clone(),
            tracing: self.tracing.clone(),
        }
    }
}

impl<DB: Database> TracedPool<DB> {
    /// Wraps `pool`; its statements are traced as `tracing` says.
    pub fn new(pool: Pool<DB>, tracing: SqlTracing) -> Self {
        TracedPool { pool, tracing }
    }

    /// The pool.
    pub fn get_ref(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The pool, unwrapped.
    pub fn into_inner(self) -> Pool<DB> {
        self.pool
    }

    /// Whether and how statements are traced.
    pub fn tracing(&self) -> &SqlTracing {
        &self.tracing
    }

    /// Traces the statements of another executor (`&mut *transaction`, `&mut *connection`)
    /// as this pool's.
    pub fn wrap<E>(&self, executor: E) -> Traced<'_, E> {
        Traced::new(executor, &self.tracing)
    }

    /// Starts a transaction (`Pool::begin`); run its statements through
    /// [`TracedPool::wrap`]`(&mut *tx)`. `BEGIN` and `COMMIT` themselves are not traced, as
    /// Python traces only cursor executions.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, DB>, Error> {
        self.pool.begin().await
    }

    /// Takes a connection from the pool (`Pool::acquire`); trace it with
    /// [`TracedPool::wrap`]`(&mut *conn)`.
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<DB>, Error> {
        self.pool.acquire().await
    }

    fn traced(&self) -> Traced<'_, &Pool<DB>> {
        Traced::new(&self.pool, &self.tracing)
    }
}

impl<'p, DB> Executor<'p> for &'p TracedPool<DB>
where
    DB: TracedDatabase,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn execute<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<QueryResult<DB>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().execute(query)
    }

    fn execute_many<'e, 'q: 'e, Q>(self, query: Q) -> BoxStream<'e, Result<QueryResult<DB>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().execute_many(query)
    }

    fn fetch<'e, 'q: 'e, Q>(self, query: Q) -> BoxStream<'e, Result<Row<DB>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().fetch(query)
    }

    fn fetch_many<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxStream<'e, Result<Either<QueryResult<DB>, Row<DB>>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().fetch_many(query)
    }

    fn fetch_all<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<Vec<Row<DB>>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().fetch_all(query)
    }

    fn fetch_one<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<Row<DB>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().fetch_one(query)
    }

    fn fetch_optional<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxFuture<'e, Result<Option<Row<DB>>, Error>>
    where
        'p: 'e,
        Q: 'q + Execute<'q, DB>,
    {
        self.traced().fetch_optional(query)
    }

    fn prepare<'e, 'q: 'e>(self, query: &'q str) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>>
    where
        'p: 'e,
    {
        self.traced().prepare(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>>
    where
        'p: 'e,
    {
        self.traced().prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}
