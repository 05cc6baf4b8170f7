use diesel_async::{
    AsyncPgConnection, RunQueryDsl,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod, deadpool},
};

/// A pool of asynchronous PostgreSQL connections.
pub type DbPool = deadpool::Pool<AsyncPgConnection>;
/// A connection borrowed from the pool; returned to it when dropped.
pub type DbConn = deadpool::Object<AsyncPgConnection>;
/// Why a connection could not be borrowed.
pub type PoolError = deadpool::PoolError;

/// Builds a pool; connections are opened lazily, on first use.
///
/// A connection goes back into service without a test query (`Fast`): the default `SELECT 1`
/// on every checkout cost one more round trip per request. A connection that failed is still
/// dropped (diesel-async marks it broken); a request on a connection the server closed while
/// it sat idle fails once, and the pool then replaces it.
pub fn build_pool(database_url: &str, max_size: usize) -> Result<DbPool, deadpool::BuildError> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    DbPool::builder(manager).max_size(max_size).build()
}

/// Whether the database answers a trivial query.
pub async fn ping(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1")
        .execute(conn)
        .await
        .map(|_| ())
}
