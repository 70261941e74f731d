//! Which label keys of a workload (Docker's, a pod's) netattr keeps, and the name a listed key
//! takes on a Prometheus series.
use std::collections::BTreeMap;

/// All keys, or only those listed (`--labels team,app`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LabelKeys {
    #[default]
    All,
    Only(Vec<String>),
}

impl LabelKeys {
    /// `*` for all, else comma-separated keys, each a label key as Docker and Kubernetes write
    /// them (`[prefix/]name`: letters, digits, `-`, `_`, `.`, one `/`); two keys may not take
    /// the same series label.
    pub fn parse(s: &str) -> Result<LabelKeys, String> {
        if s.trim() == "*" {
            return Ok(LabelKeys::All);
        }
        let mut keys: Vec<String> = Vec::new();
        for k in s.split(',').map(str::trim) {
            let ok = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
            if k.is_empty() || !k.chars().all(ok) || k.matches('/').count() > 1 || k.len() > 316 {
                return Err(format!(
                    "'{k}' is not a label key (letters, digits, '-', '_', '.', one '/'; or * for all)"
                ));
            }
            if let Some(other) = keys.iter().find(|o| series_label(o) == series_label(k)) {
                return Err(format!(
                    "'{k}' and '{other}' would both be the series label {}",
                    series_label(k)
                ));
            }
            keys.push(k.to_string());
        }
        Ok(LabelKeys::Only(keys))
    }

    /// The keys listed (none for all).
    pub fn listed(&self) -> &[String] {
        match self {
            LabelKeys::All => &[],
            LabelKeys::Only(k) => k,
        }
    }

    /// The labels whose keys are kept.
    pub fn keep(&self, mut labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
        if let LabelKeys::Only(keys) = self {
            labels.retain(|k, _| keys.contains(k));
        }
        labels
    }
}

/// The Prometheus label a workload label takes: `label_` and the key with every character
/// other than a letter, a digit or `_` made `_` (as kube-state-metrics names pod labels).
pub fn series_label(key: &str) -> String {
    let safe: String = key.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("label_{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_parsed_kept_and_named() {
        assert_eq!(LabelKeys::parse("*"), Ok(LabelKeys::All));
        let k = LabelKeys::parse("team, app.kubernetes.io/name").unwrap();
        assert_eq!(k.listed(), ["team", "app.kubernetes.io/name"]);
        let l: BTreeMap<String, String> = [("team", "shop"), ("pod-template-hash", "x")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(k.keep(l.clone()).len(), 1);
        assert_eq!(LabelKeys::All.keep(l).len(), 2);
        assert_eq!(series_label("app.kubernetes.io/name"), "label_app_kubernetes_io_name");
        assert!(LabelKeys::parse("a b").is_err());
        assert!(LabelKeys::parse("team,").is_err());
        assert!(LabelKeys::parse("a.b,a-b").unwrap_err().contains("label_a_b"));
    }
}
