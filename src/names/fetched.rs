//! What a name source has given and how it has fared: a table fetched once and again only on
//! a miss after a while, and a source that failed left alone for a while.
use std::time::{Duration, Instant};

/// How long a name source that failed (Docker's socket, containerd's) is left alone.
const RETRY_BROKEN: Duration = Duration::from_secs(30);

/// A fetched table and when it was fetched.
pub(super) struct Fetched<T> {
    value: Option<(T, Instant)>,
}

impl<T> Fetched<T> {
    pub fn none() -> Self {
        Fetched { value: None }
    }

    /// Whether the table must be fetched to look `found` up: never fetched, or fetched
    /// before `fresh_after` and without it.
    pub fn stale(&self, fresh_after: Instant, found: impl FnOnce(&T) -> bool) -> bool {
        match &self.value {
            None => true,
            Some((v, at)) => *at < fresh_after && !found(v),
        }
    }

    pub fn set(&mut self, v: T) {
        self.value = Some((v, Instant::now()));
    }

    pub fn get(&self) -> Option<&T> {
        self.value.as_ref().map(|(v, _)| v)
    }
}

/// How a name source has fared: one that failed is not asked again for `RETRY_BROKEN`, and
/// says so once.
#[derive(Default)]
pub(super) struct Health {
    broken_at: Option<Instant>,
    warned: bool,
}

impl Health {
    /// Whether it failed a short while ago: not worth another wait.
    pub fn resting(&self) -> bool {
        self.broken_at.is_some_and(|t| t.elapsed() < RETRY_BROKEN)
    }

    /// It failed: left alone for a while.
    pub fn rest(&mut self) {
        self.broken_at = Some(Instant::now());
    }

    /// `line` on stderr, the first time only.
    pub fn warn_once(&mut self, line: impl FnOnce() -> String) {
        if !self.warned {
            eprintln!("{}", line());
            self.warned = true;
        }
    }
}
