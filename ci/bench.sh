#!/usr/bin/env bash
# Runs every benchmark (release builds) and prints their tables. `--quick` shrinks workloads.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
cargo bench -p p2p-sync --bench sync -- $quick
cargo bench -p p2p-sync-store --bench reconcile -- $quick
cargo bench -p p2p-sync-sim --bench speed
