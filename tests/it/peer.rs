//! A traffic peer: the test binary runs itself as `<exe> --exact peer::peer` with
//! NETATTR_TEST_PEER set, inside a test network namespace and cgroup, so traffic comes
//! from a process whose cgroup the test controls, with exactly known payloads.
//!
//! Specs: `tcp-recv ADDR`, `tcp-send ADDR BYTES`, `tcp-serve ADDR BYTES` (a server that
//! sends BYTES to the one client it accepts), `tcp-fetch ADDR` (that client),
//! `udp-recv ADDR BYTES`, `udp-send ADDR COUNT SIZE`, `udp-spray ADDR,ADDR,... SIZE` (one
//! datagram to each), `udp-sweep [BASE]:PORT COUNT SIZE` (one datagram to each of the COUNT
//! addresses after the IPv6 address BASE), `sleep`. Receivers print `PEER ready` once bound; every peer
//! prints `PEER done BYTES SEGMENTS RETRANS` (payload moved; segments its socket sent:
//! TCP_INFO's tcpi_segs_out, or datagrams; of those, retransmissions: tcpi_total_retrans)
//! and exits. `sleep` just holds a process in its namespace
//! and cgroup. A watchdog ends any peer after 60 s.
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

pub const ENV: &str = "NETATTR_TEST_PEER";

/// The peer's entry point, not a test: ignored in every run, started by `Peer::spawn` with
/// `--ignored`.
#[test]
#[ignore = "a traffic peer's entry point: the tests start it themselves (NETATTR_TEST_PEER)"]
fn peer() {
    let Ok(spec) = std::env::var(ENV) else { return };
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("peer: watchdog: giving up after 60 s");
        std::process::exit(3);
    });
    match run(&spec) {
        Ok((n, (segs, retrans))) => {
            println!("\nPEER done {n} {segs} {retrans}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("peer {spec}: {e}");
            std::process::exit(1);
        }
    }
}

fn ready() {
    println!("\nPEER ready");
    let _ = std::io::stdout().flush();
}

/// Segments this TCP socket has sent so far (GSO super-packets count as their segments),
/// and how many of them were retransmissions.
fn segs_out(s: &TcpStream) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain integers, for which all zero bytes are a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, which lives through the call,
    // on the descriptor `s` holds open.
    let ret = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if ret == 0 {
        (info.tcpi_segs_out as u64, info.tcpi_total_retrans as u64)
    } else {
        (0, 0)
    }
}

/// Reads until the other side closes; returns the bytes read.
fn read_to_end(s: &mut TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(n),
            k => n += k as u64,
        }
    }
}

/// Sends `total` bytes, closes its side, and waits for the other side to close, so that the
/// whole exchange is over when the peer exits.
fn send_then_close(s: &mut TcpStream, total: u64) -> std::io::Result<(u64, (u64, u64))> {
    let chunk = vec![0x5au8; 1 << 16];
    let mut left = total;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..k])?;
        left -= k as u64;
    }
    s.shutdown(Shutdown::Write)?;
    let mut sink = [0u8; 64];
    while s.read(&mut sink)? > 0 {}
    Ok((total, segs_out(s)))
}

/// (payload moved, (segments sent, of which retransmitted)).
fn run(spec: &str) -> std::io::Result<(u64, (u64, u64))> {
    let w: Vec<&str> = spec.split_whitespace().collect();
    let addr = |i: usize| -> std::io::Result<SocketAddr> {
        w.get(i).and_then(|s| s.parse().ok()).ok_or_else(|| std::io::Error::other("bad address"))
    };
    let num = |i: usize| -> u64 { w.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    match w.first().copied() {
        Some("tcp-recv") => {
            let l = TcpListener::bind(addr(1)?)?;
            ready();
            let (mut s, _) = l.accept()?;
            let n = read_to_end(&mut s)?;
            let segs = segs_out(&s);
            s.shutdown(Shutdown::Both).ok();
            Ok((n, segs))
        }
        Some("tcp-send") => {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut s = loop {
                match TcpStream::connect(addr(1)?) {
                    Ok(s) => break s,
                    Err(e) if Instant::now() > deadline => return Err(e),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            send_then_close(&mut s, num(2))
        }
        Some("tcp-serve") => {
            let l = TcpListener::bind(addr(1)?)?;
            ready();
            let (mut s, _) = l.accept()?;
            send_then_close(&mut s, num(2))
        }
        Some("tcp-fetch") => {
            let mut s = TcpStream::connect(addr(1)?)?;
            let n = read_to_end(&mut s)?;
            s.shutdown(Shutdown::Both).ok();
            Ok((n, segs_out(&s)))
        }
        Some("udp-recv") => {
            let sock = UdpSocket::bind(addr(1)?)?;
            sock.set_read_timeout(Some(Duration::from_secs(3)))?;
            ready();
            let want = num(2);
            let mut n = 0u64;
            let mut buf = vec![0u8; 65536];
            while n < want {
                match sock.recv(&mut buf) {
                    Ok(k) => n += k as u64,
                    Err(_) => break,
                }
            }
            Ok((n, (0, 0)))
        }
        Some("udp-send") => {
            let sock = UdpSocket::bind(if addr(1)?.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" })?;
            let (count, size) = (num(2), num(3) as usize);
            let buf = vec![0xa5u8; size];
            for i in 0..count {
                sock.send_to(&buf, addr(1)?)?;
                if i % 16 == 15 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok((count * size as u64, (count, 0)))
        }
        Some("udp-spray") => {
            // One datagram of SIZE to each of ADDR,ADDR,... (IPv4).
            let sock = UdpSocket::bind("0.0.0.0:0")?;
            let buf = vec![0x5au8; num(2) as usize];
            let to = w.get(1).copied().unwrap_or_default().split(',').collect::<Vec<_>>();
            for a in &to {
                let a: SocketAddr = a.parse().map_err(|_| std::io::Error::other("bad address"))?;
                sock.send_to(&buf, a)?;
            }
            Ok((to.len() as u64 * buf.len() as u64, (to.len() as u64, 0)))
        }
        Some("udp-sweep") => {
            let base = addr(1)?;
            let std::net::IpAddr::V6(first) = base.ip() else {
                return Err(std::io::Error::other("udp-sweep takes an IPv6 base"));
            };
            let sock = UdpSocket::bind("[::]:0")?;
            let (count, size) = (num(2), num(3) as usize);
            let buf = vec![0xa5u8; size];
            for i in 1..=count {
                let to = std::net::Ipv6Addr::from(u128::from(first) + u128::from(i));
                // A full transmit queue (ENOBUFS) is waited out, never skipped: every address
                // gets its datagram.
                while let Err(e) = sock.send_to(&buf, SocketAddr::new(to.into(), base.port())) {
                    if e.raw_os_error() != Some(libc::ENOBUFS) && e.kind() != std::io::ErrorKind::WouldBlock {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok((count * size as u64, (count, 0)))
        }
        Some("tcp-rate") => {
            // BYTES_PER_S for SECONDS, paced on a schedule: at time t, rate * t bytes are out.
            let mut s = TcpStream::connect(addr(1)?)?;
            let (rate, secs) = (num(2), num(3));
            let start = Instant::now();
            let chunk = vec![0x33u8; 1 << 16];
            let mut sent = 0u64;
            while start.elapsed() < Duration::from_secs(secs) {
                let due = (rate as f64 * start.elapsed().as_secs_f64()) as u64;
                while sent < due {
                    let k = (due - sent).min(chunk.len() as u64) as usize;
                    s.write_all(&chunk[..k])?;
                    sent += k as u64;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            s.shutdown(Shutdown::Write)?;
            let mut sink = [0u8; 64];
            while s.read(&mut sink)? > 0 {}
            Ok((sent, segs_out(&s)))
        }
        Some("sleep") => {
            ready();
            std::thread::sleep(Duration::from_secs(3600));
            Ok((0, (0, 0)))
        }
        _ => Err(std::io::Error::other(format!("unknown peer spec '{spec}'"))),
    }
}
