//! Keys from the terminal, read from stdin in raw mode. netattr reads them itself rather
//! than through crossterm's event reader, which loops forever reading end-of-file once the
//! terminal is gone (an ssh session that dropped, a tmux session killed): here end-of-file,
//! a hang-up or a read error ends the view.
use std::time::Duration;

/// What the terminal said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Keys, as (character, Ctrl held): arrows as '↑' and '↓', Enter as '\n', Esc as 'q'.
    Keys(Vec<(char, bool)>),
    /// The terminal is gone: end.
    End,
}

/// Waits up to `wait` for keys on stdin.
pub fn read(wait: Duration) -> Input {
    if crate::ffi::hung_up(0) {
        return Input::End;
    }
    if !crate::ffi::poll_readable(0, wait) {
        return if crate::ffi::hung_up(0) { Input::End } else { Input::Keys(vec![]) };
    }
    // Straight from the descriptor: a buffered reader could keep keys that poll then
    // does not see.
    let mut buf = [0u8; 64];
    match nix::unistd::read(0, &mut buf) {
        Ok(0) => Input::End,
        Ok(n) => Input::Keys(parse(&buf[..n])),
        Err(nix::errno::Errno::EINTR) => Input::Keys(vec![]),
        Err(_) => Input::End,
    }
}

/// The keys in a chunk of raw terminal input.
pub fn parse(b: &[u8]) -> Vec<(char, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0x1b if b.get(i + 1) == Some(&b'[') && b.len() > i + 2 => {
                match b[i + 2] {
                    b'A' => out.push(('↑', false)),
                    b'B' => out.push(('↓', false)),
                    _ => {}
                }
                i += 3;
                continue;
            }
            0x1b => out.push(('q', false)),
            b'\r' | b'\n' => out.push(('\n', false)),
            c @ 1..=26 => out.push(((b'a' + c - 1) as char, true)),
            c if c.is_ascii_graphic() || c == b' ' => out.push((c as char, false)),
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_input_becomes_keys() {
        assert_eq!(parse(b"qs"), vec![('q', false), ('s', false)]);
        assert_eq!(parse(b"\x03"), vec![('c', true)]);
        assert_eq!(parse(b"\x1b[A\x1b[B\r"), vec![('\u{2191}', false), ('\u{2193}', false), ('\n', false)]);
        assert_eq!(parse(b"\x1b"), vec![('q', false)]);
        assert_eq!(
            parse(b"\x1b[1;5C p"),
            vec![(';', false), ('5', false), ('C', false), (' ', false), ('p', false)]
        );
    }
}
