use super::*;

#[test]
fn a_batchs_buckets_give_its_hours_adjacent_ones_joined() {
    let h = 1_790_812_800; // a day's start
    assert_eq!(hours_of([]), vec![]);
    assert_eq!(hours_of([h + 300, h + 3300, h + 600]), vec![(h, h + HOUR)]);
    assert_eq!(
        hours_of([h + 7200, h + 300, h + 3600 + 1500, h + 5 * HOUR]),
        vec![(h, h + 3 * HOUR), (h + 5 * HOUR, h + 6 * HOUR)]
    );
}

#[test]
fn the_hour_rows_sql_reads_the_nodes_spans_by_their_days() {
    let h = 1_790_812_800;
    let sql = hour_rows_sql("fleet", "node 'a'", &[(h, h + HOUR)]);
    assert!(sql.contains("node = 'node \\'a\\''"), "{sql}");
    assert!(sql.contains("toDate(bucket) >= toDate('2026-10-01')"), "{sql}");
    assert!(sql.contains("FROM fleet.netattr_peers FINAL"), "{sql}");
}
