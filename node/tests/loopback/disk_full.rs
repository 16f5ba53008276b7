//! The real node on a full disk: the files of its data directory may not grow past a limit
//! (`ulimit -f`, with SIGXFSZ ignored, so a write past it fails with EFBIG instead of killing
//! the process). Each `add` then either confirms and is stored, or says it failed and is not;
//! the node keeps serving, and after a restart without the limit it holds exactly the items it
//! confirmed, each intact.

use crate::driver::{start_command, Node};
use crate::local::free_port;
use std::path::Path;

/// Size limit for every file the node writes, in `ulimit -f` blocks (1 KiB in bash).
const LIMIT_BLOCKS: u32 = 1_024;

fn start_limited(data_dir: &Path, limit: Option<u32>) -> Node {
    let script = match limit {
        Some(blocks) => format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$@\""),
        None => "exec \"$@\"".to_string(),
    };
    let mut command = start_command(&["bash", "-c", &script, "limited"]);
    command
        .args(["--listen-ip", "127.0.0.1", "--no-mdns", "--port"])
        .arg(free_port().to_string())
        .arg("--data-dir")
        .arg(data_dir);
    Node::start("limited", command)
}

#[test]
fn a_full_disk_refuses_writes_and_never_loses_a_confirmed_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let value = |i: usize| format!("{i}-{}", "v".repeat(60 * 1024));
    let mut node = start_limited(&data, Some(LIMIT_BLOCKS));
    let (mut confirmed, mut refused) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let reply = node.ask(&format!("add k{i} {}", value(i)));
        if reply.starts_with("✓ Added: ") {
            confirmed.push(i);
        } else {
            assert!(reply.starts_with("✗ Storage error: "), "add k{i}: {reply}");
            refused.push(i);
        }
    }
    assert!(!confirmed.is_empty(), "some writes fit");
    println!(
        "full disk: {} adds confirmed, {} refused",
        confirmed.len(),
        refused.len()
    );
    assert!(
        refused.len() >= 10,
        "the disk filled up: refused {refused:?}"
    );
    for &i in &refused {
        assert_eq!(
            node.get(&format!("k{i}")),
            None,
            "refused k{i} is not stored"
        );
    }
    let first = confirmed[0];
    assert_eq!(node.get(&format!("k{first}")), Some(value(first)));
    assert!(node.quit().success(), "the node served on and quit cleanly");
    let mut node = start_limited(&data, None);
    let listed = node.list();
    assert_eq!(listed.len(), confirmed.len(), "exactly the confirmed items");
    for &i in &confirmed {
        assert_eq!(node.get(&format!("k{i}")), Some(value(i)), "k{i} intact");
    }
}
