//! A ClickHouse fleet store over its HTTP interface (ureq: a small, well-kept blocking HTTP
//! client, so the exporter needs no async runtime): where it is (`clickhouse://[USER@]HOST
//! [:PORT]/DB`, `clickhouses://` for HTTPS), who netattr is there (the user from the URL, the
//! password from a file or the environment, never the command line), and one request with a
//! timeout whose failures say what to fix.
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// The environment variable a store's password may come from.
pub const PASSWORD_ENV: &str = "NETATTR_CLICKHOUSE_PASSWORD";

/// Where a store is and who netattr is there.
#[derive(Clone)]
pub struct Store {
    /// `http://HOST:PORT` or `https://HOST:PORT`.
    base: String,
    pub database: String,
    user: String,
    password: Option<String>,
    /// `clickhouse://HOST:PORT/DB`: the store as netattr names it (no credentials).
    pub name: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.name)
    }
}

/// The most of an answer read (a month of 5-minute sums of a few hundred groups is well
/// under it).
const MAX_ANSWER: u64 = 1 << 30;

/// What a store said when it refused a request.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for Refused {}

impl Store {
    /// The store `url` names, with the password from `password_file` or PASSWORD_ENV (none:
    /// ClickHouse's user without a password), requests timing out after `timeout`.
    pub fn new(url: &str, password_file: Option<&Path>, timeout: Duration) -> Result<Store> {
        let bad =
            |why: &str| anyhow!("store URL '{url}' {why}: use clickhouse://[USER@]HOST[:PORT]/DATABASE");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        let (http, default_port) = match scheme {
            "clickhouse" => ("http", 8123),
            "clickhouses" => ("https", 8443),
            _ => return Err(bad(&format!("has scheme '{scheme}'"))),
        };
        let (authority, database) = rest.split_once('/').ok_or_else(|| bad("names no database"))?;
        let database = database.trim_end_matches('/');
        if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("names no database (letters, digits and '_')"));
        }
        let (user, host) = match authority.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => bail!(
                "store URL '{url}' holds a password: put it in a file (--password-file) or {PASSWORD_ENV}, never on the command line"
            ),
            Some((u, h)) => (u.to_string(), h),
            None => ("default".to_string(), authority),
        };
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        let host =
            if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !host.ends_with(']') {
                host.to_string()
            } else {
                format!("{host}:{default_port}")
            };
        let password = match password_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read the store's password file {}", f.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            ),
            None => std::env::var(PASSWORD_ENV).ok(),
        };
        let config =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build();
        Ok(Store {
            base: format!("{http}://{host}"),
            name: format!("{scheme}://{host}/{database}"),
            database: database.to_string(),
            user,
            password,
            agent: config.into(),
        })
    }

    /// Runs `sql` in the store's database (its result, if any, as text); `body` follows the
    /// query (an INSERT's rows).
    pub fn run(&self, sql: &str, body: Option<&str>) -> Result<String> {
        self.request(Some(&self.database), sql, body)
    }

    /// Runs `sql` in the server's default database (to make the store's).
    pub fn run_in_default(&self, sql: &str) -> Result<String> {
        self.request(None, sql, None)
    }

    fn request(&self, database: Option<&str>, sql: &str, body: Option<&str>) -> Result<String> {
        let (query, body) = match body {
            Some(b) => (Some(sql), b.to_string()),
            None => (None, sql.to_string()),
        };
        let mut req = self
            .agent
            .post(&self.base)
            .header("X-ClickHouse-User", &self.user)
            .query("output_format_json_quote_64bit_integers", "0");
        if let Some(d) = database {
            req = req.query("database", d);
        }
        if let Some(q) = query {
            req = req.query("query", q);
        }
        if let Some(p) = &self.password {
            req = req.header("X-ClickHouse-Key", p);
        }
        let mut resp = req.send(body).map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        // ureq stops reading at 10 MB unless told: a month's p95 rows of many groups are more.
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if status != 200 {
            return Err(anyhow::Error::new(Refused { status, message: first_line(&text) }).context(format!(
                "the fleet store {} refused a request{}",
                self.name,
                hint(status, &text)
            )));
        }
        Ok(text)
    }

    /// Rows of `sql` (without a FORMAT clause) as JSON objects, 64-bit integers as numbers.
    pub fn rows(&self, sql: &str) -> Result<Vec<serde_json::Value>> {
        self.rows_as(sql)
    }

    /// The rows of `sql` read into `T` (faster than `rows`' JSON values where there are many).
    pub fn rows_as<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>> {
        let text = self.run(&format!("{sql} FORMAT JSONEachRow"), None)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .with_context(|| format!("the fleet store {} answered '{l}'", self.name))
            })
            .collect()
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        let why = match &e {
            ureq::Error::Timeout(_) => "it did not answer in time (--timeout)".to_string(),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                "nothing listens there (is ClickHouse running, and is the port its HTTP port?)".into()
            }
            other => other.to_string(),
        };
        anyhow!("cannot reach the fleet store {}: {why}", self.name)
    }
}

/// ClickHouse's error text, first line, as "what (ClickHouse code N)" without its trace.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let line = line.split(", e.what()").next().unwrap_or(line);
    let line = line.split(" (version ").next().unwrap_or(line);
    let line: String = match line.strip_prefix("Code: ").and_then(|r| r.split_once(", ")) {
        Some((code, what)) => {
            let what = what.trim_start_matches("e.displayText() = ").trim_start_matches("DB::Exception: ");
            format!("{what} (ClickHouse code {code})")
        }
        None => line.to_string(),
    };
    line.chars().take(500).collect()
}

/// What to do about a refusal, by its kind.
fn hint(status: u16, text: &str) -> &'static str {
    if status == 401
        || status == 403
        || ["Code: 192,", "Code: 193,", "Code: 194,", "Code: 516,"].iter().any(|c| text.starts_with(c))
    {
        " (check the user in the URL and the password: --password-file or NETATTR_CLICKHOUSE_PASSWORD)"
    } else if text.starts_with("Code: 81,") {
        " (no such database: create it, or 'netattr export --init' does)"
    } else if text.starts_with("Code: 60,") {
        " (no netattr tables there: 'netattr export --init' makes them)"
    } else {
        ""
    }
}

/// `s` as a ClickHouse string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_store_and_never_hold_a_password() {
        let t = Duration::from_secs(1);
        let s = Store::new("clickhouse://ch.example:9123/fleet", None, t).unwrap();
        assert_eq!(
            (s.base.as_str(), s.name.as_str(), s.database.as_str()),
            ("http://ch.example:9123", "clickhouse://ch.example:9123/fleet", "fleet")
        );
        let s = Store::new("clickhouses://netattr@ch.example/fleet", None, t).unwrap();
        assert_eq!((s.base.as_str(), s.user.as_str()), ("https://ch.example:8443", "netattr"));
        let e = Store::new("clickhouse://u:pw@h/db", None, t).unwrap_err().to_string();
        assert!(e.contains("holds a password"), "{e}");
        for bad in ["h:8123/db", "http://h/db", "clickhouse://h", "clickhouse://h/", "clickhouse://h/d;b"] {
            assert!(Store::new(bad, None, t).is_err(), "{bad}");
        }
        assert_eq!(quote("a'b\\c"), "'a\\'b\\\\c'");
    }
}
