//! The demo's traffic: a tiny HTTP responder that the namespace workloads run, and the load
//! generators the demo drives from the host. Every loop ends when `stop` is set; every socket
//! has a timeout, so a dead workload costs a retry, never a hang.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One of the three workloads.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub name: &'static str,
    /// The size of the one object its server hands out.
    pub object: u64,
    /// Requests per second the generator sends (each a new connection).
    pub requests_per_s: f64,
    /// Pace of the download in bytes per second (TCP flow control then paces the sender).
    pub paced: Option<u64>,
    /// Bytes per second the workload itself uploads to the demo's internet.
    pub upload: Option<u64>,
}

/// An HTTP server under load, a key-value style exchange, and a bulk sender at ~50 Mbit/s
/// to the host that also uploads ~40 Mbit/s to the internet (through the NAT uplink).
pub const ROLES: [Role; 3] = [
    Role { name: "web", object: 32 * 1024, requests_per_s: 100.0, paced: None, upload: None },
    Role { name: "kv", object: 64, requests_per_s: 20.0, paced: None, upload: None },
    Role {
        name: "bulk",
        object: 16 << 20,
        requests_per_s: 0.0,
        paced: Some(50_000_000 / 8),
        upload: Some(40_000_000 / 8),
    },
];

pub const PORT: u16 = 80;
const TIMEOUT: Duration = Duration::from_secs(3);

/// The demo's internet (`netattr demo-server --sink PORT`): reads and discards whatever
/// arrives on PORT. Runs until killed.
pub fn sink(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(TIMEOUT));
            let mut buf = [0u8; 65536];
            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    Ok(())
}

/// Uploads to `to` at about `rate` bytes per second, reconnecting after a failure, until
/// the process is killed (a thread of a namespace workload's server).
pub fn upload(to: SocketAddr, rate: u64) {
    let chunk = [0u8; 16384];
    loop {
        let Ok(mut conn) = TcpStream::connect_timeout(&to, TIMEOUT) else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        let _ = conn.set_write_timeout(Some(TIMEOUT));
        let (start, mut sent) = (Instant::now(), 0u64);
        while conn.write_all(&chunk).is_ok() {
            sent += chunk.len() as u64;
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The namespace workloads' server (`netattr demo-server`): answers every request on port 80
/// with `object` bytes. Runs until killed.
pub fn serve(object: u64) -> anyhow::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = answer(conn, object);
        });
    }
    Ok(())
}

fn answer(mut conn: TcpStream, object: u64) -> std::io::Result<()> {
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    // The request's contents do not matter: read up to the end of its headers.
    let (mut buf, mut seen) = ([0u8; 4096], Vec::new());
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16384 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        seen.extend_from_slice(&buf[..n]);
    }
    write!(conn, "HTTP/1.0 200 OK\r\nContent-Length: {object}\r\nConnection: close\r\n\r\n")?;
    let zeros = [0u8; 65536];
    let mut left = object;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        conn.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Starts one generator thread per role, each against its workload's address.
pub fn generate(targets: Vec<(Role, Ipv4Addr)>, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    targets
        .into_iter()
        .map(|(role, ip)| {
            let stop = stop.clone();
            std::thread::spawn(move || drive(role, SocketAddr::from((ip, PORT)), &stop))
        })
        .collect()
}

fn drive(role: Role, addr: SocketAddr, stop: &AtomicBool) {
    let gap = if role.requests_per_s > 0.0 {
        Duration::from_secs_f64(1.0 / role.requests_per_s)
    } else {
        Duration::ZERO
    };
    let mut next = Instant::now();
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match fetch(addr, role.paced, stop) {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures == 5 {
                    eprintln!("netattr: demo: {} at {addr} does not answer: {e}", role.name);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        next += gap;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now; // behind: do not burst to catch up
        }
    }
}

/// One GET, read to the end; with `paced`, no faster than that many bytes per second.
fn fetch(addr: SocketAddr, paced: Option<u64>, stop: &AtomicBool) -> std::io::Result<()> {
    let mut conn = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    conn.write_all(b"GET /object HTTP/1.0\r\nHost: demo\r\n\r\n")?;
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut got = 0u64;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        got += n as u64;
        if let Some(rate) = paced {
            let due = start + Duration::from_secs_f64(got as f64 / rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
}
