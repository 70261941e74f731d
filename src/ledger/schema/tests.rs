use super::*;
use crate::ledger::known::Cursor;

#[test]
fn a_version_1_ledger_is_read_as_it_is_and_migrated_keeping_its_rows() {
    let t = crate::ledger::TempFile::new("schema");
    let path = &t.0;
    {
        let c = Connection::open(path).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO recorder (id, at, cycles, duration_ms, cpu_ms, rows, collected, resets)
             VALUES (1, 100, 7, 1.5, 1.0, 3, 0, 0)",
            [],
        )
        .unwrap();
    }
    let ro = crate::ledger::Ledger::open_ro(path).unwrap();
    let r = crate::ledger::query::recorder(&ro).unwrap().unwrap();
    assert_eq!((r.cycles, r.rows, r.waiting), (7, 3, 0));
    assert_eq!(version(&ro.conn).unwrap(), 1, "a reader leaves the file as it is");
    drop(ro);
    let rw = crate::ledger::Ledger::open_rw(path).unwrap();
    assert_eq!(version(&rw.conn).unwrap(), VERSION);
    let r = crate::ledger::query::recorder(&rw).unwrap().unwrap();
    assert_eq!((r.cycles, r.rows, r.waiting), (7, 3, 0));
}

#[test]
fn a_version_3_ledger_keeps_its_cursors_one_row_a_cgroup() {
    use crate::bpf::{Counters, Source};
    let t = crate::ledger::TempFile::new("schema-3");
    let path = &t.0;
    {
        let c = Connection::open(path).unwrap();
        for step in &MIGRATIONS[..3] {
            c.execute_batch(step).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        c.execute_batch(
            "INSERT INTO instances (id, instance, boot_id, loaded_at, pin_dir, first_cycle, last_cycle)
               VALUES (1, 'b/1/1', 'b', 1, '/p', 0, 0), (2, 'b/2/2', 'b', 2, '/p', 0, 0);
             INSERT INTO cursors VALUES (1, 'tc', 7, '', 1, 2, 3, 4), (1, 'socket', 7, '', 5, 6, 7, 8),
               (1, 'socket', 7, 'internet', 9, 10, 11, 12), (1, 'socket', 8, '', 0, 13, 0, 1),
               (2, 'tc', 7, '', 100, 0, 1, 0);",
        )
        .unwrap();
    }
    let mut l = crate::ledger::Ledger::open_rw(path).unwrap();
    assert_eq!(version(&l.conn).unwrap(), VERSION);
    let rows: i64 = l.conn.query_row("SELECT count(*) FROM cursors", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 3, "one row a cgroup and instance");
    let index: i64 = l
        .conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'usage_by_workload'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(index, 0);
    let mut got = l.cursors("b/1/1").unwrap();
    got.sort_by_key(|c| (c.cgroup_id, c.source.code(), c.class.clone()));
    let c = |source, cgroup_id, class: &str, [rx_bytes, tx_bytes, rx_packets, tx_packets]: [u64; 4]| Cursor {
        source,
        cgroup_id,
        class: class.to_string(),
        counters: Counters { rx_bytes, tx_bytes, rx_packets, tx_packets },
    };
    assert_eq!(
        got,
        [
            c(Source::Tc, 7, "", [1, 2, 3, 4]),
            c(Source::Socket, 7, "", [5, 6, 7, 8]),
            c(Source::Socket, 7, "internet", [9, 10, 11, 12]),
            c(Source::Socket, 8, "", [0, 13, 0, 1]),
        ]
    );
}

#[test]
fn a_version_9_ledger_rolling_a_day_up_gets_the_peer_days_of_its_slices_done() {
    let t = crate::ledger::TempFile::new("schema-9");
    let path = &t.0;
    let day = 20_000 * 86_400;
    {
        let c = Connection::open(path).unwrap();
        for step in &MIGRATIONS[..9] {
            c.execute_batch(step).unwrap();
        }
        c.pragma_update(None, "user_version", 9).unwrap();
        // The day's rollup was at workload 5 when netattr was upgraded: workloads 1..4 are
        // rolled up, 5 and later not yet (their peer days come with their slices).
        c.execute_batch(&format!(
            "INSERT INTO rollups VALUES ('day', {day}, 5);
             UPDATE versions SET version = 77;
             INSERT INTO peers VALUES ({day}, 1, 'socket', 'private', '10.0.0.2', 1, 2, 3, 4, 1),
               ({} , 1, 'socket', 'private', '10.0.0.2', 10, 20, 30, 40, 2),
               ({}, 1, 'socket', 'private', '10.0.0.2', 100, 0, 0, 0, 3),
               ({day}, 7, 'socket', 'private', '10.0.0.2', 1, 1, 1, 1, 1);",
            day + 3600,
            day + 86_400
        ))
        .unwrap();
    }
    let l = crate::ledger::Ledger::open_rw(path).unwrap();
    assert_eq!(version(&l.conn).unwrap(), VERSION);
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> = l
        .conn
        .prepare("SELECT day, workload, rx_bytes, first_bucket, last_bucket, version FROM peer_days")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, [(day, 1, 11, day, day + 3600, 77)], "workload 1's day, not 7's, not the next day's");
}
