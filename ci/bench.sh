#!/usr/bin/env bash
# Runs every benchmark (release builds) and prints their tables. `--quick` shrinks workloads.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
cargo bench -p p2p-sync --bench sync -- $quick
cargo bench -p p2p-sync-store --bench reconcile -- $quick
# The store's apply-if-newer against raw SQLite inserts of the same rows.
cargo bench -p p2p-sync-store --bench apply -- $quick
# Signature checks: verify_strict, ZIP-215 alone, in batches, and batches split over threads.
cargo bench -p p2p-sync-core --bench verify
cargo bench -p p2p-sync-sim --bench speed
# A sustained direct-protocol attack on a real node (10 attackers, 100,000 keys).
cargo build --release -p p2p-sync -p p2p-sync-lab
if [ -n "$quick" ]; then
    target/release/p2p-sync-siege --keys 10000 --attackers 3 --seconds 5
else
    target/release/p2p-sync-siege
fi
