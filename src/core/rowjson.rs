//! A counter row as JSON, written field by field: the same bytes as `Row`'s `Serialize`
//! (a test compares the two on real reports), without serde's escaping of the constant
//! keys, which was the largest user-space cost of `stats --format json` on 10,000 rows.
use std::io::{self, Write};

use crate::core::row::Row;

/// A string value, escaped as JSON.
fn string<W: Write>(out: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(out, s).map_err(io::Error::from)
}

fn opt_string<W: Write>(out: &mut W, key: &[u8], s: Option<&str>) -> io::Result<()> {
    out.write_all(key)?;
    match s {
        Some(s) => string(out, s),
        None => out.write_all(b"null"),
    }
}

fn number<W: Write>(out: &mut W, key: &[u8], n: u64) -> io::Result<()> {
    out.write_all(key)?;
    out.write_all(itoa::Buffer::new().format(n).as_bytes())
}

/// Writes `r` as one JSON object.
pub fn write_row<W: Write>(out: &mut W, r: &Row) -> io::Result<()> {
    use crate::bpf::layout::CGID_OVERFLOW;
    if r.cgroup_id == CGID_OVERFLOW {
        out.write_all(b"{\"cgroup_id\":null")?;
    } else {
        number(out, b"{\"cgroup_id\":", r.cgroup_id)?;
    }
    opt_string(out, b",\"bucket\":", Some(&crate::output::label(&r.bucket)))?;
    opt_string(out, b",\"path\":", r.path.as_deref())?;
    out.write_all(if r.gone { b",\"gone\":true" } else { b",\"gone\":false" })?;
    let w = &r.who;
    opt_string(out, b",\"kind\":", w.kind.map(|k| crate::output::label(&k)).as_deref())?;
    opt_string(out, b",\"runtime\":", w.runtime)?;
    opt_string(out, b",\"container_id\":", w.container_id.as_deref())?;
    opt_string(out, b",\"pod_uid\":", w.pod_uid.as_deref())?;
    opt_string(out, b",\"name\":", w.name.as_deref())?;
    opt_string(out, b",\"pod_namespace\":", w.pod_namespace.as_deref())?;
    opt_string(out, b",\"pod_name\":", w.pod_name.as_deref())?;
    if let Some(l) = &w.labels {
        out.write_all(b",\"labels\":")?;
        serde_json::to_writer(&mut *out, l).map_err(io::Error::from)?;
    }
    opt_string(out, b",\"source\":", Some(r.source.name()))?;
    if let Some(i) = r.ifindex {
        number(out, b",\"ifindex\":", u64::from(i))?;
    }
    if let Some(i) = &r.iface {
        opt_string(out, b",\"iface\":", i.as_deref())?;
    }
    if let Some(p) = &r.protocol {
        opt_string(out, b",\"protocol\":", Some(p))?;
    }
    if let Some(p) = r.port {
        number(out, b",\"port\":", u64::from(p))?;
    }
    if let Some(c) = &r.class {
        opt_string(out, b",\"class\":", Some(c))?;
    }
    let c = &r.counters;
    number(out, b",\"rx_bytes\":", c.rx_bytes)?;
    number(out, b",\"tx_bytes\":", c.tx_bytes)?;
    number(out, b",\"rx_packets\":", c.rx_packets)?;
    number(out, b",\"tx_packets\":", c.tx_packets)?;
    if let Some(x) = &r.rates {
        for (key, v) in [
            (&b",\"rx_bytes_per_s\":"[..], x.rx_bytes_per_s),
            (b",\"tx_bytes_per_s\":", x.tx_bytes_per_s),
            (b",\"rx_packets_per_s\":", x.rx_packets_per_s),
            (b",\"tx_packets_per_s\":", x.tx_packets_per_s),
        ] {
            out.write_all(key)?;
            serde_json::to_writer(&mut *out, &v).map_err(io::Error::from)?;
        }
    }
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{Counters, Source};
    use crate::core::row::Extra;
    use crate::rates::Rates;

    #[test]
    fn the_same_bytes_as_serde() {
        let mut rows = vec![
            Row::bare(
                7,
                Source::Tc,
                Extra::None,
                Counters { rx_bytes: 1, tx_bytes: 2, rx_packets: 3, tx_packets: 4 },
            ),
            Row::bare(u64::MAX, Source::Socket, Extra::Port(17, 53), Counters::default()),
            Row::bare(0, Source::Tc, Extra::Iface(3, None), Counters::default()),
            Row::bare(9, Source::Tc, Extra::Iface(4, Some("eth\"0".into())), Counters::default()),
        ];
        rows[0].path = Some("/a/\u{1b}[31m\tb\\c".into());
        rows[0].gone = true;
        rows[0].who = crate::identity::Summary::of(Some("/system.slice/docker-0123.scope"));
        rows[0].who.name = Some("web \"1\"".into());
        rows[0].who.labels = Some([("k".to_string(), "v".to_string())].into());
        rows[1].rates = Some(Rates {
            rx_bytes_per_s: 1.5,
            tx_bytes_per_s: 0.0,
            rx_packets_per_s: 1e-7,
            tx_packets_per_s: 12345.678,
        });
        for r in &rows {
            let mut mine = Vec::new();
            write_row(&mut mine, r).unwrap();
            assert_eq!(String::from_utf8(mine).unwrap(), serde_json::to_string(r).unwrap());
        }
    }
}
