#!/usr/bin/env bash
# Installs the tools the test suite needs on a fresh Debian machine (CI runs as root).
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)   # partitions in the LAN scenario runner (lab/)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "warning: missing ${need[*]} and not root; the tests that need them will say they are skipped" >&2
  fi
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# The HTTP API's status page is tested in a headless browser (node/tests/api/); without one
# that test says SKIPPED, so a failed install does not stop CI.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    echo "warning: could not install chromium; the status page's browser test will say SKIPPED" >&2
fi
