//! Drawing `netattr top`: a pure function of the model, so tests render it on ratatui's
//! TestBackend. Fits 80x24; narrower terminals drop columns; tiny ones get a note.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::model::{short_bytes, short_rate, sparkline, Model};

pub const MIN_WIDTH: u16 = 30;
pub const MIN_HEIGHT: u16 = 6;

/// The two header lines: time, state, sort, grouping, totals; source and attachments.
fn render_header(f: &mut Frame, m: &Model, header: Rect) {
    let state = if m.paused { "PAUSED" } else { "live" };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "netattr top  {}  {state}  sort: {}  by: {}  rx {}  tx {}",
                m.time.get(11..19).unwrap_or(""),
                m.order().label(),
                m.grouping_label(),
                short_rate(m.rx_s),
                short_rate(m.tx_s)
            )),
            Line::from(format!("{}; {}; {}", m.header.source, m.header.attached, m.header.cgroup_mode)),
        ]),
        header,
    );
}

/// The table of rows: the window of rows that fits, the selected one in view.
fn render_table(f: &mut Frame, m: &Model, body: Rect) {
    // Numbers keep fixed widths; names and paths share what is left, 3:2.
    let wide = body.width >= 70;
    let mut cols = vec![("NAME", Constraint::Fill(3))];
    if wide {
        cols.push(("ID / PATH", Constraint::Fill(2)));
        cols.push(("CGROUP", Constraint::Length(8)));
    }
    cols.extend([
        ("RX/s", Constraint::Length(9)),
        ("TX/s", Constraint::Length(9)),
        ("TOTAL", Constraint::Length(8)),
    ]);
    // With the class breakdown: what each row exchanges with the internet class.
    let internet = m.rows.iter().any(|r| r.internet_s.is_some());
    if internet {
        cols.push(("INTERNET/s", Constraint::Length(10)));
    }
    let spark = if wide { (body.width / 8).min(20) } else { 0 };
    if spark >= 5 {
        cols.push(("HISTORY", Constraint::Length(spark)));
    }
    // Only the rows that fit are built (a host can have 10,000 workloads): a window that
    // keeps the selected row in view.
    let fit = (body.height as usize).saturating_sub(1).max(1);
    let start = (m.selected + 1).saturating_sub(fit).min(m.rows.len().saturating_sub(fit));
    let rows = m.rows.iter().skip(start).take(fit).map(|r| {
        let mut cells = vec![Cell::from(r.name.clone())];
        if wide {
            cells.push(Cell::from(r.ident.clone()));
            cells.push(Cell::from(if r.bucket || r.members > 0 {
                "-".into()
            } else {
                r.cgroup_id.to_string()
            }));
        }
        cells.extend([
            Cell::from(short_rate(r.rx_s)),
            Cell::from(short_rate(r.tx_s)),
            Cell::from(short_bytes(r.total_bytes)),
        ]);
        if internet {
            cells.push(Cell::from(r.internet_s.map(short_rate).unwrap_or_default()));
        }
        if spark >= 5 {
            cells.push(Cell::from(sparkline(m.history.get(&r.cgroup_id), spark as usize)));
        }
        Row::new(cells)
    });
    let widths: Vec<Constraint> = cols.iter().map(|c| c.1).collect();
    let table = Table::new(rows, widths)
        .header(
            Row::new(cols.iter().map(|c| Cell::from(c.0))).style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut ts =
        TableState::default().with_selected(if m.rows.is_empty() { None } else { Some(m.selected - start) });
    f.render_stateful_widget(table, body, &mut ts);
}

pub fn render(f: &mut Frame, m: &Model) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let note = format!("netattr top: terminal too small ({MIN_WIDTH}x{MIN_HEIGHT} at least)");
        f.render_widget(Paragraph::new(note).wrap(Wrap { trim: true }), area);
        return;
    }
    let detail_height =
        if m.detail { (m.detail_lines.len() as u16 + 2).clamp(3, area.height / 3) } else { 0 };
    let [header, body, detail, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(detail_height),
        Constraint::Length(1),
    ])
    .areas(area);

    render_header(f, m, header);
    render_table(f, m, body);

    if m.detail {
        let lines: Vec<Line> = m.detail_lines.iter().map(|l| Line::from(l.as_str())).collect();
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title("detail")),
            detail,
        );
    }
    let keys = if area.width >= 70 {
        "q quit  s sort  g group  p pause  r re-resolve  ↑↓ select  enter detail"
    } else {
        "q s g p r ↑↓ enter"
    };
    f.render_widget(Paragraph::new(keys), footer);
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::super::model::{Header, Model, Order, TopRow};
    use super::*;

    fn model() -> Model {
        let mut m = Model::new(Header {
            source: "source socket".into(),
            attached: "tc on 3 interface(s), socket at /".into(),
            cgroup_mode: "cgroup2 at /sys/fs/cgroup (unified)".into(),
        });
        m.time = "2026-11-25T04:25:32.000Z".into();
        let row = |id, name: &str, rx, tx| TopRow {
            cgroup_id: id,
            name: name.into(),
            ident: format!("{id:x}abcdef0123"),
            rx_s: rx,
            tx_s: tx,
            total_bytes: 1_000_000 * id,
            bucket: false,
            internet_s: None,
            members: 0,
        };
        m.rows = vec![
            row(11, "bulk-sender", 1e3, 6.25e6),
            row(12, "web", 2e6, 3e5),
            row(13, "kv-store", 5e4, 4e4),
        ];
        m.history.insert(11, VecDeque::from(vec![1.0, 2.0, 8.0]));
        m.rx_s = 2.05e6;
        m.tx_s = 6.59e6;
        m
    }

    fn screen(m: &Model, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, m)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>().trim_end().to_string()
            })
            .collect()
    }

    #[test]
    fn renders_at_80x24() {
        let s = screen(&model(), 80, 24);
        assert_eq!(s[0], "netattr top  04:25:32  live  sort: tx/s  by: cgroup  rx 2.0M/s  tx 6.3M/s");
        assert!(s[1].starts_with("source socket; tc on 3 interface(s), socket at /;"), "{}", s[1]);
        assert!(
            s[2].starts_with("NAME")
                && s[2].contains("ID / PATH")
                && s[2].contains("TX/s")
                && s[2].contains("HISTORY"),
            "{}",
            s[2]
        );
        assert!(
            s[3].starts_with("bulk-sender") && s[3].contains("6.0M/s") && s[3].contains("▂▃█"),
            "{}",
            s[3]
        );
        assert!(s[4].starts_with("web") && s[5].starts_with("kv-store"));
        assert!(s[23].starts_with("q quit  s sort"), "{}", s[23]);
    }

    #[test]
    fn ten_thousand_rows_scroll_with_the_selection() {
        let mut m = model();
        let template = m.rows[2].clone();
        m.rows = (0..10_000u64)
            .map(|i| TopRow { cgroup_id: 100 + i, name: format!("w{i}"), ..template.clone() })
            .collect();
        m.selected = 5_000;
        let s = screen(&m, 80, 24);
        // Rows 3..23 hold 20 rows; the selected one is the last of the window.
        assert!(s[3].starts_with("w4981"), "{}", s[3]);
        assert!(s[22].starts_with("w5000"), "{}", s[22]);
        m.selected = 9_999;
        assert!(screen(&m, 80, 24)[22].starts_with("w9999"));
        m.selected = 0;
        assert!(screen(&m, 80, 24)[3].starts_with("w0 "));
    }

    #[test]
    fn degrades_at_40x12_and_refuses_tiny() {
        let s = screen(&model(), 40, 12);
        assert!(
            s[2].starts_with("NAME") && !s[2].contains("ID / PATH") && !s[2].contains("HISTORY"),
            "{}",
            s[2]
        );
        assert!(s[3].starts_with("bulk-sender"), "{}", s[3]);
        assert_eq!(s[11], "q s g p r ↑↓ enter");
        let tiny = screen(&model(), 20, 4);
        assert!(tiny.join("").contains("too small"), "{tiny:?}");
    }

    #[test]
    fn keys_sort_select_pause_and_detail() {
        let mut m = model();
        assert_eq!(m.order(), Order::Tx);
        m.key('s', false);
        assert_eq!(m.order(), Order::Rx);
        assert_eq!(m.rows[0].name, "web", "sorted by rx");
        m.key('s', false);
        m.key('s', false);
        assert_eq!(m.order(), Order::Name);
        assert_eq!(
            m.rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["bulk-sender", "kv-store", "web"]
        );
        m.key('j', false);
        assert_eq!(m.selected_id(), Some(13));
        m.key('p', false);
        assert!(m.paused);
        m.key('\n', false);
        m.detail_lines = vec!["iface veth0 rx 1 KiB".into()];
        let s = screen(&m, 80, 24);
        assert!(s[0].contains("PAUSED"));
        assert!(
            s.iter().any(|l| l.contains("detail")) && s.iter().any(|l| l.contains("iface veth0")),
            "{s:?}"
        );
        assert_eq!(m.key('q', false), super::super::model::Action::Quit);
        assert_eq!(m.key('c', true), super::super::model::Action::Quit);
    }
}
