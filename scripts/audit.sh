#!/usr/bin/env bash
# Dependency audit with cargo-deny (policy in deny.toml): licences, bans and sources, which need
# no network, then RustSec advisories, which need the advisory database from GitHub.
#
#   scripts/audit.sh             everything; fails if the advisory database cannot be fetched
#   scripts/audit.sh --offline   licences, bans and sources only, and says advisories were skipped
#
# Installs cargo-deny with `cargo install --locked` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
offline=0
[ "${1:-}" = "--offline" ] && offline=1
command -v cargo-deny > /dev/null || cargo install cargo-deny --locked

cargo deny --log-level warn check licenses bans sources
if [ "$offline" -eq 1 ]; then
    echo "audit: advisories NOT checked (--offline)"
    exit 0
fi
if ! cargo deny fetch; then
    echo "audit: the RustSec advisory database could not be fetched; advisories NOT checked (run with network, or pass --offline to skip them knowingly)" >&2
    exit 2
fi
cargo deny check advisories
echo "audit: licences, bans, sources and advisories ok"
