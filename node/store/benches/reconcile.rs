//! Reconciliation cost: two stores of 10,000 and 1,000,000 keys that differ in 0, 1, 1,000 and
//! 100,000 keys reconcile through the real core over SQLite; prints round trips, bytes each
//! way, the overhead per differing record, and CPU time.
//!
//! Run: `cargo bench -p p2p-sync-store --bench reconcile` (add `-- --quick` to skip 1,000,000 keys).

use p2p_sync_core::auth::{self, Identity, Keys, NamedKeys};
use p2p_sync_core::store::{digest, Store};
use p2p_sync_core::testkit;
use p2p_sync_core::{Config, ManualClock, NodeCore, Write};
use p2p_sync_store::SqliteStore;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting the bytes in use and their peak: the hostile-message table
/// reports the most memory one message made the node hold at once.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let in_use = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(in_use, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; returns its result and the most heap it held above what was in use before.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = f();
    (result, PEAK.load(Ordering::Relaxed) - before)
}

const START: u64 = 1_736_000_000_000;
/// A PeerId-sized origin, so record sizes match the real network.
const ORIGIN_A: &str = "12D3KooWBa1JqQ7gGq6G3pM6n4x5pB7dYwq3k9s6f2u1r8t0v4aA";
const ORIGIN_B: &str = "12D3KooWNWSqQ7gGq6G3pM6n4x5pB7dYwq3k9s6f2u1r8t0v4bB";

type Node = NodeCore<SqliteStore, ManualClock>;

/// A node whose SQLite store (in memory) holds `writes`.
fn node(id: &str, writes: &[&[Write]]) -> Node {
    let mut store = SqliteStore::open_in_memory().expect("in-memory SQLite");
    for part in writes {
        for chunk in part.chunks(100_000) {
            store.apply(chunk).expect("apply");
        }
    }
    NodeCore::new(
        id.to_string(),
        Identity::named(id, Default::default()),
        Config::default(),
        store,
        ManualClock::new(START),
        7,
    )
}

fn write(i: usize, origin: &str) -> Write {
    let value = format!("value-{i:08}-{}", "x".repeat(40));
    let wall_ms = START - 2_000_000 + i as u64; // all in the past, within the future bound
    testkit::write(&format!("key-{i:08}"), Some(&value), wall_ms, origin)
}

/// Bytes of a record without any protocol around it: key, value, timestamp and origin.
fn raw_bytes(write: &Write) -> usize {
    write.key.len() + write.value.as_ref().map_or(0, String::len) + 12 + write.version.origin.len()
}

struct Outcome {
    flights: usize,
    bytes_a_to_b: usize,
    bytes_b_to_a: usize,
    cpu_ms: f64,
}

/// Runs the session `a` opens on connecting, flight by flight, until both sides are quiet.
fn reconcile(a: &mut Node, b: &mut Node) -> Outcome {
    let started = Instant::now();
    let traffic = testkit::connect(a, b).expect("store");
    Outcome {
        flights: traffic.flights,
        bytes_a_to_b: traffic.bytes_from[0],
        bytes_b_to_a: traffic.bytes_from[1],
        cpu_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Signs and verifies `count` writes (each signature checked once: the verdict memo never
/// hits); prints both rates, the limit signed writes put on every path.
fn signature_rates(count: usize) {
    let key = NamedKeys::signing_key("bench");
    let mut writes: Vec<Write> = (0..count).map(|i| write(i, "bench")).collect();
    let started = Instant::now();
    for write in &mut writes {
        auth::sign(&key, write);
    }
    let sign_s = started.elapsed().as_secs_f64();
    let keys = NamedKeys::default();
    let started = Instant::now();
    let valid = writes
        .iter()
        .filter(|write| {
            let signature = write.signature.as_ref().expect("signed");
            keys.verify("bench", &write.signed_bytes(), signature)
        })
        .count();
    let verify_s = started.elapsed().as_secs_f64();
    assert_eq!(valid, count);
    println!(
        "ed25519 on one core: {:.0} signatures/s, {:.0} verifications/s ({count} writes)\n",
        count as f64 / sign_s,
        count as f64 / verify_s
    );
}

/// One hostile direct message of each kind against `node`, each from a peer of its own that
/// opened an exchange first (so the message passes the protocol's order and budgets): prints
/// the CPU time, the peak heap it made the node hold and the bytes of the node's answer.
fn hostile_costs(node: &mut Node) {
    use p2p_sync_core::iblt::{Iblt, StrataEstimator};
    use p2p_sync_core::reconciliation::{
        self, ReconcileMessage, MAX_IDS_PER_PAGE, MAX_SKETCH_CELLS, MAX_WANT_PER_MESSAGE,
    };
    use p2p_sync_core::Outbox;
    let random_ids =
        |count: usize| (0..count as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let full_table = |cells: usize| {
        let mut table = Iblt::new(cells);
        random_ids(cells * 4).for_each(|id| table.insert(id));
        table
    };
    let forged: Vec<Write> = (0..1_000).map(|i| write(i, "someone-else")).collect();
    let mut known = Vec::new();
    node.store()
        .for_each(&mut |write| {
            if known.len() < MAX_WANT_PER_MESSAGE {
                known.push(write.id())
            }
        })
        .expect("store");
    let too_small = ReconcileMessage::SketchTooSmall {
        attempt: 0,
        cells: MAX_SKETCH_CELLS as u32,
    };
    // The node sends its strata to any peer whose probe does not peel: this one claims a
    // difference that sizes the largest sketch.
    let mut near_strata = node.store().tally().strata.clone();
    random_ids(20_000).for_each(|id| near_strata.insert(id));
    let mut page: Vec<u64> = random_ids(MAX_IDS_PER_PAGE).collect();
    page.sort_unstable();
    // An `Estimate` (variant 3, count 1) whose strata claim a million empty tables: 1 MiB.
    let mut strata_bomb = vec![3u8, 1];
    strata_bomb.extend([0xc0, 0x84, 0x3d]); // 1,000,000 as postcard's varint
    strata_bomb.extend(std::iter::repeat_n(0u8, 1_000_000));
    // What the node hears from the peer first: nothing, a `Hello`, an `Estimate` that has it
    // send a sketch (then the message reports that sketch too small) or one that has it list
    // its ids (then the message asks for the page one id past the first page's first id).
    #[derive(Clone, Copy, PartialEq)]
    enum Before {
        Nothing,
        Hello,
        Sketch,
        Listing,
    }
    let mut far_strata = node.store().tally().strata.clone();
    random_ids(100_000).for_each(|id| far_strata.insert(id ^ 1));
    let raw = [
        (
            "Estimate of 1,000,000 empty strata, no Hello",
            Before::Nothing,
            strata_bomb.clone(),
        ),
        (
            "Estimate of 1,000,000 empty strata, after a Hello",
            Before::Hello,
            strata_bomb,
        ),
        (
            "SketchTooSmall for the sketch the node sent",
            Before::Sketch,
            Vec::new(),
        ),
        (
            "IdsFrom one id past the first page's first (while listing)",
            Before::Listing,
            Vec::new(),
        ),
    ];
    let messages = [
        (
            "Hello (summary differs)",
            ReconcileMessage::Hello {
                count: 1,
                fingerprint: 1,
            },
        ),
        (
            "Probe that does not peel",
            ReconcileMessage::Probe {
                table: full_table(reconciliation::PROBE_CELLS),
            },
        ),
        (
            "Estimate claiming u64::MAX keys",
            ReconcileMessage::Estimate {
                count: u64::MAX,
                strata: StrataEstimator::default(),
            },
        ),
        (
            "Estimate of its own strata and 20,000 more ids",
            ReconcileMessage::Estimate {
                count: 20_000,
                strata: near_strata,
            },
        ),
        (
            "Sketch of the largest size",
            ReconcileMessage::Sketch {
                attempt: 0,
                table: full_table(MAX_SKETCH_CELLS),
            },
        ),
        (
            "SketchTooSmall at the largest size, no sketch sent",
            ReconcileMessage::SketchTooSmall {
                attempt: 0,
                cells: MAX_SKETCH_CELLS as u32,
            },
        ),
        (
            "Ids page of 16,384 ids the node lacks",
            ReconcileMessage::Ids {
                from: 0,
                to: u64::MAX,
                ids: page,
            },
        ),
        (
            "IdsFrom after a Hello and that SketchTooSmall",
            ReconcileMessage::IdsFrom { from: 1 },
        ),
        (
            "Records wanting 60,000 unknown ids",
            ReconcileMessage::Records {
                writes: Vec::new(),
                want: random_ids(MAX_WANT_PER_MESSAGE).collect(),
                offer: Vec::new(),
            },
        ),
        (
            "Records wanting 60,000 ids the node holds",
            ReconcileMessage::Records {
                writes: Vec::new(),
                want: known,
                offer: Vec::new(),
            },
        ),
        (
            "Records offering 60,000 ids",
            ReconcileMessage::Records {
                writes: Vec::new(),
                want: Vec::new(),
                offer: random_ids(MAX_WANT_PER_MESSAGE).collect(),
            },
        ),
        (
            "Records of 1,000 unsigned writes of another origin",
            ReconcileMessage::Records {
                writes: forged,
                want: Vec::new(),
                offer: Vec::new(),
            },
        ),
    ];
    println!(
        "\nOne hostile direct message against a store of {} keys:\n",
        node.store().summary().count
    );
    println!("| message | bytes | CPU ms | peak heap KiB | bytes answered | drops |");
    println!("|---|---:|---:|---:|---:|---:|");
    let messages = messages
        .into_iter()
        .map(|(name, message)| {
            let bytes = reconciliation::encode(&message);
            (name, Before::Hello, bytes)
        })
        .chain(raw);
    for (index, (name, before, mut bytes)) in messages.enumerate() {
        let peer = format!("attacker-{index}");
        let hello = reconciliation::encode(&ReconcileMessage::Hello {
            count: 1,
            fingerprint: 1,
        });
        if before != Before::Nothing {
            node.handle_direct(&mut Outbox::default(), &peer, &hello)
                .expect("store");
        }
        if name.starts_with("IdsFrom after") {
            // The attack as measured: a `SketchTooSmall` no sketch asked for, then `IdsFrom`.
            let too_small = reconciliation::encode(&too_small);
            node.handle_direct(&mut Outbox::default(), &peer, &too_small)
                .expect("store");
        }
        if matches!(before, Before::Sketch | Before::Listing) {
            let strata = if before == Before::Sketch {
                StrataEstimator::default()
            } else {
                far_strata.clone()
            };
            let estimate = reconciliation::encode(&ReconcileMessage::Estimate {
                count: u64::MAX,
                strata,
            });
            let mut out = Outbox::default();
            node.handle_direct(&mut out, &peer, &estimate)
                .expect("store");
            let answer = out.sent.first().expect("an answer to the estimate");
            let answer = reconciliation::decode(&answer.1, 1 << 20).expect("decodes");
            bytes = match answer {
                ReconcileMessage::Sketch { attempt, table } => {
                    reconciliation::encode(&ReconcileMessage::SketchTooSmall {
                        attempt,
                        cells: table.len() as u32,
                    })
                }
                ReconcileMessage::Ids { ids, .. } => {
                    reconciliation::encode(&ReconcileMessage::IdsFrom { from: ids[0] + 1 })
                }
                other => panic!("{}", other.name()),
            };
        }
        let mut out = Outbox::default();
        let dropped = node.counters().dropped.total();
        let started = Instant::now();
        let ((), heap) = peak_heap(|| node.handle_direct(&mut out, &peer, &bytes).expect("store"));
        let cpu_ms = started.elapsed().as_secs_f64() * 1000.0;
        let answered: usize = out.sent.iter().map(|(_, bytes)| bytes.len()).sum();
        println!(
            "| {name} | {} | {cpu_ms:.1} | {} | {answered} | {} |",
            bytes.len(),
            heap / 1024,
            node.counters().dropped.total() - dropped
        );
    }
}

/// The heap a store's tally (every id in order, the folding table, the strata estimator)
/// takes for 1,000,000 keys: the memory reconciliation without store scans costs.
fn tally_memory() {
    const KEYS: usize = 1_000_000;
    let writes: Vec<Write> = (0..KEYS).map(|i| write(i, ORIGIN_A)).collect();
    let (tally, heap) = peak_heap(|| {
        let mut tally = p2p_sync_core::store::Tally::default();
        writes.iter().for_each(|write| tally.replace(None, write));
        tally
    });
    println!(
        "tally of {KEYS} keys: {:.1} MiB of heap ({:.1} bytes per key)\n",
        heap as f64 / (1 << 20) as f64,
        heap as f64 / KEYS as f64
    );
    drop(tally);
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    tally_memory();
    signature_rates(if quick { 2_000 } else { 20_000 });
    let sizes: &[usize] = if quick {
        &[10_000]
    } else {
        &[10_000, 1_000_000]
    };
    println!("| keys | differing | round trips | bytes A→B | bytes B→A | raw bytes of differing records | total / raw | overhead per differing record | CPU ms | converged |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
    let mut hostile_target = None;
    for &keys in sizes {
        let shared: Vec<Write> = (0..keys).map(|i| write(i, ORIGIN_A)).collect();
        for differing in [0usize, 1, 1_000, 100_000] {
            if differing > keys / 2 {
                continue;
            }
            // B lacks half of the differing keys and holds the other half that A lacks.
            let missing_on_b = differing / 2 + differing % 2;
            let only_b: Vec<Write> = (0..differing / 2)
                .map(|i| write(keys + i, ORIGIN_B))
                .collect();
            let mut a = node(ORIGIN_A, &[&shared]);
            let mut b = node(ORIGIN_B, &[&shared[missing_on_b..], &only_b]);
            let raw: usize = shared[..missing_on_b]
                .iter()
                .chain(&only_b)
                .map(raw_bytes)
                .sum();
            let outcome = reconcile(&mut a, &mut b);
            let total = outcome.bytes_a_to_b + outcome.bytes_b_to_a;
            let converged = digest(a.store()).unwrap() == digest(b.store()).unwrap();
            let ratio = if raw == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", total as f64 / raw as f64)
            };
            let overhead = if differing == 0 {
                "-".to_string()
            } else {
                format!(
                    "{:.1} B",
                    (total.saturating_sub(raw)) as f64 / differing as f64
                )
            };
            println!(
                "| {keys} | {differing} | {:.1} | {} | {} | {raw} | {ratio} | {overhead} | {:.0} | {} |",
                outcome.flights as f64 / 2.0,
                outcome.bytes_a_to_b,
                outcome.bytes_b_to_a,
                outcome.cpu_ms,
                if converged {
                    "yes".to_string()
                } else {
                    format!(
                        "NO (dropped by A: {:?}; by B: {:?})",
                        a.counters().dropped,
                        b.counters().dropped
                    )
                }
            );
            if differing == 0 && keys == *sizes.last().expect("a size") {
                hostile_target = Some(a); // its writes are its own: it answers wants of them
            }
        }
    }
    if let Some(mut node) = hostile_target {
        hostile_costs(&mut node);
    }
}
