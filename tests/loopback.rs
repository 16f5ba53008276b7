//! Real p2p-sync processes talking over loopback live in `node/tests/loopback/`, where Cargo
//! builds the `p2p-sync` binary for them (`CARGO_BIN_EXE_p2p-sync`); `cargo test --workspace`
//! runs them. This target stays for cross-crate loopback checks that need the simulator too.
