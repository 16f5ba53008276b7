//! The `p2p-sync` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    p2p_sync::cli::main()
}
