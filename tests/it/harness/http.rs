//! HTTP: `netattr serve` on a free port, GETs, and Prometheus samples.
use std::process::{Child, Stdio};
use std::time::Duration;

use super::*;

/// A free TCP port on loopback (bound, then released for the caller).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from a loopback server: (status code, body). 0 when nothing answers.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    http_get_at("127.0.0.1", port, path)
}

/// GET `path` from `ip:port`: (status code, body). 0 when nothing answers.
pub fn http_get_at(ip: &str, port: u16, path: &str) -> (u16, String) {
    http_request(ip, port, "GET", path, "")
}

/// `method` `path` with `body` to `ip:port` (HTTP/1.0): (status code, body). 0 when nothing
/// answers.
pub fn http_request(ip: &str, port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect((ip, port)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head =
        format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n", body.len());
    if s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).is_err() {
        return (0, String::new());
    }
    let mut raw = String::new();
    if s.read_to_string(&mut raw).is_err() {
        return (0, String::new());
    }
    let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

/// `netattr serve` on a free loopback port; Drop kills it if the test did not stop it.
pub struct Serve {
    pub child: Child,
    pub port: u16,
}

impl Serve {
    pub fn start(na: &Netattr, extra: &[&str]) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend(extra);
        let child = na.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let s = Serve { child, port };
        wait_until(&format!("netattr serve to answer /healthz on {listen}"), Duration::from_secs(5), || {
            s.get("/healthz").0 == 200
        });
        s
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    /// SIGTERM; returns the exit code and stderr.
    pub fn stop(mut self) -> (i32, String) {
        use std::io::Read;
        signal(self.child.id(), libc::SIGTERM);
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The samples of `metric` in Prometheus exposition text: (labels text, value).
pub fn samples<'a>(text: &'a str, metric: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(metric)?;
            let (labels, value) = rest.rsplit_once(' ')?;
            (labels.is_empty() || labels.starts_with('{')).then_some((labels, value.parse().ok()?))
        })
        .collect()
}
