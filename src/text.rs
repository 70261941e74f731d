//! Names from the kernel (cgroup directory names) are bytes, not always UTF-8. netattr
//! carries them exactly: valid UTF-8 as it is, and each byte that is not as the character
//! U+10FF00 + byte (in Unicode's last Private Use Area), so that every JSON document,
//! Prometheus label and table holds the name and `code point - 0x10FF00` gives each byte
//! back. Tables show those bytes as `\xNN` (output::clean). A name that itself contains
//! U+10FF00..U+10FFFF cannot be told apart from one with such bytes: none of the container
//! runtimes, systemd or the kubelet makes such names.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Where the bytes that are not UTF-8 are put.
pub const BYTE_BASE: u32 = 0x10_FF00;

/// The exact text of a name's bytes.
pub fn exact(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            out.push(char::from_u32(BYTE_BASE + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
    out
}

/// The exact text of a path or file name.
pub fn exact_os(s: &OsStr) -> String {
    exact(s.as_bytes())
}

/// The byte a character stands for, if it stands for one.
pub fn byte_of(c: char) -> Option<u8> {
    u8::try_from(u32::from(c).checked_sub(BYTE_BASE)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_survive() {
        assert_eq!(exact(b"docker-ab.scope"), "docker-ab.scope");
        assert_eq!(exact("caf\u{e9}".as_bytes()), "caf\u{e9}");
        let s = exact(b"bad\xffname\xc3");
        assert_eq!(s, "bad\u{10FFFF}name\u{10FFC3}");
        let back: Vec<u8> = s
            .chars()
            .flat_map(|c| match byte_of(c) {
                Some(b) => vec![b],
                None => c.to_string().into_bytes(),
            })
            .collect();
        assert_eq!(back, b"bad\xffname\xc3");
        assert_eq!(byte_of('a'), None);
    }
}
