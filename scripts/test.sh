#!/usr/bin/env bash
# The test command: installs what is missing, builds the packages (scripts/package.sh: the
# packaging tests install and run them), runs clippy, then every test on the real kernel.
# The test binaries run as root (through sudo when you are not root); with CI set, a test
# that would have to skip for lack of privileges fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/package.sh >/dev/null
if [ "$(id -u)" -ne 0 ]; then
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="sudo -E"
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="sudo -E"
fi
# The lints (Cargo.toml's [lints]: no unwrap or expect outside tests, unsafe ops in
# unsafe fns said, nothing unused) hold as the tests do; tests/layout.rs holds the layout.
cargo clippy --locked --all-targets -- -D warnings
# A privileged test that skips (not root, CI unset) is counted, and said at the end.
skipped="target/tmp/skipped-privileged-tests"
rm -f "$skipped"
status=0
cargo test --locked "$@" || status=$?
if [ -s "$skipped" ]; then
  echo "test.sh: $(wc -l <"$skipped") privileged test(s) skipped for lack of root: $(sort "$skipped" | tr '\n' ' ')" >&2
fi
exit $status
