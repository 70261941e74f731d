//! Traffic peers: child processes of the test binary (peer.rs) that send and receive known
//! byte counts.
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::*;

/// What a finished peer reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    pub bytes: u64,
    /// Segments its socket sent (tcpi_segs_out), or datagrams for UDP.
    pub segments: u64,
    /// Of those, retransmissions (tcpi_total_retrans; 0 for UDP).
    pub retrans: u64,
}

/// A running traffic peer (see peer.rs).
pub struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts the peer in `cgroup`, inside network namespace `netns` if given.
    pub fn spawn(cgroup: &Cgroup, netns: Option<&str>, spec: &str) -> Peer {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        cmd.args(["--exact", "peer::peer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(crate::peer::ENV, spec)
            .stdout(Stdio::piped());
        in_cgroup(&mut cmd, cgroup);
        let mut child = cmd.spawn().expect("spawning a traffic peer");
        let out = BufReader::new(child.stdout.take().unwrap());
        Peer { child, out }
    }

    fn line(&mut self, prefix: &str) -> String {
        let mut l = String::new();
        loop {
            l.clear();
            if self.out.read_line(&mut l).unwrap_or(0) == 0 {
                panic!("traffic peer ended without '{prefix}'");
            }
            // libtest prints `test peer::peer ... ` before the peer's own output.
            if let Some(at) = l.find(prefix) {
                return l[at + prefix.len()..].trim().to_string();
            }
        }
    }

    /// The peer's process id (for moving it to another cgroup).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a receiver is bound.
    pub fn ready(mut self) -> Self {
        self.line("PEER ready");
        self
    }

    /// Waits for the peer to finish; returns the bytes it moved.
    pub fn done(self) -> u64 {
        self.finish().bytes
    }

    /// Waits for the peer to finish; returns what it moved and how many segments it sent.
    pub fn finish(mut self) -> Done {
        let l = self.line("PEER done");
        let mut w = l.split_whitespace().map(|x| x.parse::<u64>().expect("a number"));
        let done = Done {
            bytes: w.next().unwrap_or(0),
            segments: w.next().unwrap_or(0),
            retrans: w.next().unwrap_or(0),
        };
        let status = self.child.wait().expect("waiting for a peer");
        assert!(status.success(), "peer failed: {status}");
        done
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
