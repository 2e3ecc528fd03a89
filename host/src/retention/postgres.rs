//! Retention's deletes in a PostgreSQL database. Times are compared with `COLLATE "C"`: byte
//! order is time order for the stored RFC 3339 text, whatever collation the database was
//! created with (as in SQLite).

use super::{RetentionStore, Rule};
use crate::db::Postgres;
use anyhow::{Context, Result};

/// [`RetentionStore`] over [`Postgres`].
pub(super) struct PostgresRetention {
    db: Postgres,
}

impl PostgresRetention {
    pub(super) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl RetentionStore for PostgresRetention {
    fn delete_finished(&self, rule: Rule, cutoff: &str) -> Result<usize> {
        let Rule {
            table,
            finished,
            time,
        } = rule;
        let sql = format!(r#"DELETE FROM {table} WHERE {finished} AND {time} COLLATE "C" < $1"#);
        let cutoff = cutoff.to_string();
        let deleted = self
            .db
            .run(move |client| Box::pin(async move { Ok(client.execute(&sql, &[&cutoff]).await?) }))
            .with_context(|| format!("purging finished rows of {table}"))?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}
