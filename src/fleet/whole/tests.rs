use super::*;

const D: i64 = 1_790_812_800; // a day's start

#[test]
fn a_store_listing_no_node_reads_the_whole_period_from_five_minute_rows() {
    let spans = Whole::default().peer_spans(D + 100, D + 9000);
    assert_eq!(spans, vec![Spans { node: None, hours: vec![], buckets: vec![(D + 100, D + 9000)] }]);
}

#[test]
fn a_nodes_whole_hours_come_from_hour_rows_its_days_from_day_rows_the_ends_from_buckets() {
    let mut w = Whole::default();
    // Node a: day D+1 whole, hour rows from D + 2h on; node b: no day, no hour rows; node c:
    // hour rows from long before.
    w.peer_days.insert("a".into(), vec![D + 86_400]);
    w.peer_days.insert("b".into(), vec![]);
    w.peer_days.insert("c".into(), vec![]);
    w.hours.insert("a".into(), D + 2 * HOUR);
    w.hours.insert("c".into(), 0);
    let (since, until) = (D + 1800, D + 2 * 86_400 + 5 * HOUR + 600);
    let spans = w.peer_spans(since, until);
    let of = |n: &str| spans.iter().find(|s| s.node.as_deref() == Some(n)).unwrap().clone();
    let a = of("a");
    assert_eq!(a.hours, vec![(D + 2 * HOUR, D + 86_400), (D + 2 * 86_400, D + 2 * 86_400 + 5 * HOUR)]);
    assert_eq!(a.buckets, vec![(since, D + 2 * HOUR), (D + 2 * 86_400 + 5 * HOUR, until)]);
    let b = of("b");
    assert_eq!((b.hours, b.buckets), (vec![], vec![(since, until)]));
    let c = of("c");
    assert_eq!(c.hours, vec![(D + HOUR, D + 2 * 86_400 + 5 * HOUR)]);
    assert_eq!(c.buckets, vec![(since, D + HOUR), (D + 2 * 86_400 + 5 * HOUR, until)]);
    // A period inside one hour: no hour row.
    let inside = w.peer_spans(D + 3 * HOUR + 300, D + 3 * HOUR + 900);
    assert!(inside
        .iter()
        .all(|s| s.hours.is_empty() && s.buckets == vec![(D + 3 * HOUR + 300, D + 3 * HOUR + 900)]));
    // Every second of the period is read once, from one kind of row or another.
    for s in &spans {
        let days = w.peer_days[s.node.as_deref().unwrap()].len() as i64 * 86_400;
        let covered: i64 = s.hours.iter().chain(&s.buckets).map(|(x, y)| y - x).sum();
        assert_eq!(covered + days, until - since, "{s:?}");
    }
}
