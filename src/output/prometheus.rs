//! The Prometheus text exposition format, through the `prometheus` crate's encoder (which
//! escapes HELP text and label values): netattr builds metric families from the counters it
//! has read, so absolute values are set directly instead of kept in live metric objects.
use anyhow::Result;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

pub type Family = MetricFamily;

/// The content type of what `encode` writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family under construction: one name, help text and type, many labelled samples.
pub struct Builder {
    family: MetricFamily,
    metrics: Vec<Metric>,
}

impl Builder {
    pub fn counter(name: &str, help: &str) -> Self {
        Self::new(name, help, MetricType::COUNTER)
    }

    pub fn gauge(name: &str, help: &str) -> Self {
        Self::new(name, help, MetricType::GAUGE)
    }

    fn new(name: &str, help: &str, kind: MetricType) -> Self {
        let mut family = MetricFamily::default();
        family.set_name(name.to_string());
        family.set_help(help.to_string());
        family.set_field_type(kind);
        Builder { family, metrics: Vec::new() }
    }

    /// Adds one sample. Labels with no value are left out, as Prometheus treats an empty
    /// label like a missing one.
    pub fn sample<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, Option<String>)>, value: f64) {
        let mut m = Metric::default();
        let pairs: Vec<LabelPair> = labels
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
            .map(|(k, v)| {
                let mut l = LabelPair::default();
                l.set_name(k.to_string());
                l.set_value(v);
                l
            })
            .collect();
        m.set_label(pairs);
        if self.family.get_field_type() == MetricType::COUNTER {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        } else {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
        self.metrics.push(m);
    }

    pub fn build(mut self) -> MetricFamily {
        self.family.set_metric(self.metrics);
        self.family
    }
}

/// Exposition text, written one family at a time so that only one family's samples are held
/// at once (10,000 workloads make 40,000 counter samples). Families without samples are
/// left out (the format has no use for them).
#[derive(Default)]
pub struct Text {
    buf: Vec<u8>,
}

impl Text {
    pub fn push(&mut self, family: MetricFamily) -> Result<()> {
        if !family.get_metric().is_empty() {
            TextEncoder::new().encode(std::slice::from_ref(&family), &mut self.buf)?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<String> {
        Ok(String::from_utf8(self.buf)?)
    }
}

/// The families as exposition text.
pub fn encode(families: Vec<MetricFamily>) -> Result<String> {
    let mut t = Text::default();
    for f in families {
        t.push(f)?;
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_label_values_are_escaped() {
        let mut b = Builder::counter("netattr_test_total", "help with \\ and\nnewline");
        b.sample([("name", Some("a\"b\nc\\d".to_string())), ("empty", None)], 3.0);
        let text = encode(vec![b.build()]).unwrap();
        assert_eq!(
            text,
            "# HELP netattr_test_total help with \\\\ and\\nnewline\n# TYPE netattr_test_total counter\n\
             netattr_test_total{name=\"a\\\"b\\nc\\\\d\"} 3\n"
        );
    }
}
