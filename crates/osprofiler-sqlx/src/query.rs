//! [`TracedQuery`]: a query whose arguments were taken out early, to render them into the
//! start info, and are handed back unchanged to the executor that runs it.

use std::fmt;
use std::marker::PhantomData;

use sqlx::error::BoxDynError;
use sqlx::{Database, Execute};

/// Arguments as [`Execute::take_arguments`] returns them.
type TakenArguments<'q, DB> = Result<Option<<DB as Database>::Arguments<'q>>, BoxDynError>;

/// A query with its arguments already taken: everything else is asked of the inner query.
pub(crate) struct TracedQuery<'q, DB: Database, Q> {
    inner: Q,
    arguments: Option<TakenArguments<'q, DB>>,
    _db: PhantomData<fn() -> DB>,
}

impl<'q, DB: Database, Q: Execute<'q, DB>> TracedQuery<'q, DB, Q> {
    /// Takes the arguments of `inner`; read them with [`TracedQuery::arguments`].
    pub(crate) fn new(mut inner: Q) -> Self {
        let arguments = Some(inner.take_arguments());
        TracedQuery {
            inner,
            arguments,
            _db: PhantomData,
        }
    }

    /// The arguments taken: `Ok(None)` for a query without any (sqlx then uses the simple
    /// protocol), `Err` when binding one failed.
    pub(crate) fn arguments(&self) -> Result<Option<&DB::Arguments<'q>>, ()> {
        match &self.arguments {
            Some(Ok(a)) => Ok(a.as_ref()),
            Some(Err(_)) | None => Err(()),
        }
    }
}

impl<'q, DB: Database, Q: Execute<'q, DB>> Execute<'q, DB> for TracedQuery<'q, DB, Q> {
    fn sql(&self) -> &'q str {
        self.inner.sql()
    }

    fn statement(&self) -> Option<&DB::Statement<'q>> {
        self.inner.statement()
    }

    fn take_arguments(&mut self) -> TakenArguments<'q, DB> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
}

impl<DB: Database, Q> fmt::Debug for TracedQuery<'_, DB, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedQuery").finish_non_exhaustive()
    }
}
