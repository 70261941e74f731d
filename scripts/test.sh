#!/usr/bin/env bash
# The test command: installs what is missing, builds the packages (scripts/package.sh: the
# packaging tests install and run them), then runs every test on the real kernel.
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
exec cargo test --locked "$@"
