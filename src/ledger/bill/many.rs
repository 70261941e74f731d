//! Rows written many to a statement: a bill of a closed bucket's slice writes thousands of
//! usage and cursor rows, and a statement's own cost (binding, stepping, resetting) was
//! about as much as the row's insert.
use anyhow::Result;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Transaction};

/// Rows a full statement writes.
const ROWS: usize = 64;

/// An INSERT of rows of `width` values: `head` up to VALUES, `tail` after the rows (an
/// ON CONFLICT clause).
pub struct Insert {
    pub head: &'static str,
    pub width: usize,
    pub tail: &'static str,
}

impl Insert {
    fn sql(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.width].join(", "));
        format!("{} VALUES {} {}", self.head, vec![row; rows].join(", "), self.tail)
    }

    /// Writes `values` (rows of `width` values, in order): full statements of 64 rows, the
    /// rest one by one. Rows of one key in one statement add up as they would one by one.
    pub fn run(&self, tx: &Transaction<'_>, values: &[ToSqlOutput<'_>]) -> Result<()> {
        let full = ROWS * self.width;
        let mut chunks = values.chunks_exact(full);
        if chunks.len() > 0 {
            let mut q = tx.prepare_cached(&self.sql(ROWS))?;
            for chunk in chunks.by_ref() {
                q.execute(params_from_iter(chunk))?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut q = tx.prepare_cached(&self.sql(1))?;
            for row in rest.chunks(self.width) {
                q.execute(params_from_iter(row))?;
            }
        }
        Ok(())
    }
}

/// A text value, borrowed.
pub fn text(t: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes()))
}

/// An integer value.
pub fn int<'a>(i: i64) -> ToSqlOutput<'a> {
    ToSqlOutput::Borrowed(ValueRef::Integer(i))
}

/// SQL NULL.
pub fn null<'a>() -> ToSqlOutput<'a> {
    ToSqlOutput::Borrowed(ValueRef::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two full statements and a rest written one by one, keys repeated within a statement
    /// and across statements: every key ends with the sum of its rows, as one by one.
    #[test]
    fn rows_of_one_key_add_up_within_and_across_statements() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)", []).unwrap();
        let insert = Insert {
            head: "INSERT INTO t (k, v)",
            width: 2,
            tail: "ON CONFLICT (k) DO UPDATE SET v = v + excluded.v",
        };
        let keys: Vec<String> = (0..131).map(|i| format!("k{}", i % 7)).collect();
        let mut values = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            values.extend([text(k), int(i as i64)]);
        }
        let tx = conn.transaction().unwrap();
        insert.run(&tx, &values).unwrap();
        insert.run(&tx, &[]).unwrap();
        tx.commit().unwrap();
        for k in 0..7 {
            let want: i64 = (0..131).filter(|i| i % 7 == k).sum();
            let got: i64 =
                conn.query_row("SELECT v FROM t WHERE k = ?1", [format!("k{k}")], |r| r.get(0)).unwrap();
            assert_eq!(got, want, "k{k}");
        }
    }
}
