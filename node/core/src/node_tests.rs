//! Tests of the node state machine: user commands, gossip handling, drops, reconciliation,
//! and the convergence properties.

use super::*;
use crate::auth::{self, Identity};
use crate::store::{digest, MemoryStore, Store};
use crate::testkit::{self, Traffic};
use proptest::prelude::*;

const START: u64 = 1_736_000_000_000;

type Node = NodeCore<MemoryStore, ManualClock>;

fn node(id: &str, clock: &ManualClock) -> Node {
    let unlimited = RateLimit {
        max_messages: u32::MAX,
        max_writes: u64::MAX,
        max_bytes: u64::MAX,
        window_ms: 60_000,
    };
    let config = Config {
        author_rate: unlimited,
        forwarder_rate: unlimited,
        direct_rate: unlimited,
        scan_rate: unlimited,
        ..Config::default()
    };
    node_on(id, clock, config, MemoryStore::new())
}

/// Node `id` on `clock` with `config`, holding `store`.
fn node_on(id: &str, clock: &ManualClock, config: Config, store: MemoryStore) -> Node {
    NodeCore::new(p(id), identity(id), config, store, clock.clone(), 1)
}

/// Node `id` with the default limits and an empty store.
fn default_node(id: &str, clock: &ManualClock) -> Node {
    node_on(id, clock, Config::default(), MemoryStore::new())
}

/// The signing identity of the test node `name`.
fn identity(name: &str) -> Identity {
    Identity::named(name, Default::default())
}

/// A peer id of the tests.
fn p(name: &str) -> String {
    name.to_string()
}

fn gossip(to: &mut Node, author: &str, payload: &[u8]) -> Verdict {
    to.handle_gossip(&mut Outbox::default(), &p(author), &p(author), payload)
        .unwrap()
}

/// Delivers the direct messages in `outboxes` and all replies; returns (messages, bytes).
fn run_direct(nodes: &mut [&mut Node], mut outboxes: Vec<Outbox>) -> (usize, usize) {
    let Traffic {
        messages, bytes, ..
    } = testkit::pump(nodes, &mut outboxes).unwrap();
    (messages, bytes)
}

fn connect(a: &mut Node, b: &mut Node) -> (usize, usize) {
    let Traffic {
        messages, bytes, ..
    } = testkit::connect(a, b).unwrap();
    (messages, bytes)
}

#[test]
fn a_put_is_stored_then_published_in_the_legacy_form() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    let mut out = Outbox::default();
    let write = a.put(&mut out, "hello", "world").unwrap();
    assert_eq!(a.get("hello").unwrap().as_deref(), Some("world"));
    assert_eq!(out.published.len(), 1);
    let text = String::from_utf8(out.published[0].clone()).unwrap();
    assert!(
        text.starts_with(
            r#"{"Put":{"key":"hello","value":"world","timestamp":"2025-01-04T14:13:20Z""#
        ),
        "{text}"
    );
    assert_eq!(write.version.origin, "a");
}

#[test]
fn invalid_user_input_stores_and_publishes_nothing() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    let mut out = Outbox::default();
    assert!(matches!(
        a.put(&mut out, &p("k").repeat(257), "v"),
        Err(CommandError::Invalid(_))
    ));
    assert!(matches!(
        a.put(&mut out, "k", &p("v").repeat(65 * 1024)),
        Err(CommandError::Invalid(_))
    ));
    assert!(matches!(
        a.delete(&mut out, ""),
        Err(CommandError::Invalid(_))
    ));
    assert!(out.published.is_empty());
    assert_eq!(a.store().summary().count, 0);
}

#[test]
fn a_write_travels_by_gossip_and_a_delete_follows() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let mut out = Outbox::default();
    a.put(&mut out, "hello", "world").unwrap();
    clock.advance(5);
    let (_, was_live) = a.delete(&mut out, "hello").unwrap();
    assert!(was_live);
    let mut events = Outbox::default();
    for payload in &out.published {
        assert_eq!(
            b.handle_gossip(&mut events, &p("a"), &p("a"), payload)
                .unwrap(),
            Verdict::Accept
        );
    }
    assert_eq!(b.get("hello").unwrap(), None);
    assert_eq!(b.counters().applied, 2);
    assert!(
        matches!(&events.events[0], Event::Applied { from, writes } if from == "a" && writes[0].to_string() == "Put { hello = world }")
    );
}

#[test]
fn the_exact_legacy_message_applies_with_the_author_as_origin() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let seed = br#"{"Put":{"key":"hello","value":"world","timestamp":"2025-01-04T08:30:15Z"}}"#;
    assert_eq!(gossip(&mut b, "old-node", seed), Verdict::Accept);
    let stored = b.store().get("hello").unwrap().unwrap();
    assert_eq!(stored.value.as_deref(), Some("world"));
    assert_eq!(stored.version.origin, "old-node");
    assert_eq!(
        gossip(&mut b, "old-node", seed),
        Verdict::Accept,
        "a duplicate is valid, just not newer"
    );
    assert_eq!((b.counters().applied, b.counters().ignored_older), (1, 1));
}

#[test]
fn bad_messages_are_dropped_counted_and_logged_once_per_interval() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let mut out = Outbox::default();
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let invalid = br#"{"Put":{"key":"","value":"v","timestamp":"2025-01-04T08:30:15Z"}}"#;
    let future = format!(
        r#"{{"Put":{{"key":"k","value":"v","timestamp":"{}"}}}}"#,
        wire::format_timestamp(START + 3_600_000)
    );
    for _ in 0..2 {
        assert_eq!(
            b.handle_gossip(&mut out, &p("x"), &p("x"), &huge).unwrap(),
            Verdict::Reject
        );
        assert_eq!(
            b.handle_gossip(&mut out, &p("x"), &p("x"), b"{not json")
                .unwrap(),
            Verdict::Reject
        );
        assert_eq!(
            b.handle_gossip(&mut out, &p("x"), &p("x"), invalid)
                .unwrap(),
            Verdict::Reject
        );
        assert_eq!(
            b.handle_gossip(&mut out, &p("x"), &p("x"), future.as_bytes())
                .unwrap(),
            Verdict::Reject
        );
    }
    let dropped = b.counters().dropped;
    assert_eq!(
        (
            dropped.too_large,
            dropped.malformed,
            dropped.invalid,
            dropped.future_timestamp
        ),
        (2, 2, 2, 2)
    );
    assert_eq!(
        out.events.len(),
        4,
        "one log line per reason: {:?}",
        out.events
    );
    assert_eq!(b.store().summary().count, 0);
}

#[test]
fn a_write_stamped_too_far_ahead_names_its_peer_for_status() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    assert_eq!(b.clock_ahead(), None);
    let future = format!(
        r#"{{"Put":{{"key":"k","value":"v","timestamp":"{}"}}}}"#,
        wire::format_timestamp(START + 60_000)
    );
    assert_eq!(gossip(&mut b, "fast", future.as_bytes()), Verdict::Reject);
    clock.advance(5_000);
    let (ahead, ago_ms) = b.clock_ahead().expect("recorded");
    assert_eq!(
        (ahead.peer.as_str(), ahead.ahead_ms, ago_ms),
        ("fast", 60_000, 5_000)
    );
}

#[test]
fn an_author_over_its_rate_limit_is_dropped_and_reconciled_with_later() {
    let clock = ManualClock::new(START);
    let mut b = default_node("b", &clock);
    let mut out = Outbox::default();
    b.handle_peer_up(&mut out, &p("a-relay"));
    for i in 0..150 {
        let message =
            format!(r#"{{"Put":{{"key":"k{i}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}"#);
        b.handle_gossip(&mut out, &p("flooder"), &p("a-relay"), message.as_bytes())
            .unwrap();
    }
    assert_eq!(b.counters().applied, 100);
    assert_eq!(b.counters().dropped.rate_limited, 50);
    out.sent.clear();
    clock.advance(1_000);
    b.handle_timeout(&mut out);
    assert_eq!(
        out.sent.len(),
        1,
        "a reconciliation with the relay is due after the drop"
    );
    assert_eq!(out.sent[0].0, "a-relay");
}

#[test]
fn an_honest_relay_is_not_throttled_for_many_authors_traffic() {
    let clock = ManualClock::new(START);
    let mut b = default_node("b", &clock);
    let mut out = Outbox::default();
    for author in 0..20 {
        for i in 0..100 {
            let message = format!(
                r#"{{"Put":{{"key":"{author}-{i}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}"#
            );
            b.handle_gossip(
                &mut out,
                &format!("author{author}"),
                &p("relay"),
                message.as_bytes(),
            )
            .unwrap();
        }
    }
    assert_eq!(
        (b.counters().applied, b.counters().dropped.rate_limited),
        (2000, 0)
    );
}

#[test]
fn concurrent_writes_at_the_same_millisecond_resolve_by_origin_on_both_sides() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let (mut out_a, mut out_b) = (Outbox::default(), Outbox::default());
    a.put(&mut out_a, "k", "from-a").unwrap();
    b.put(&mut out_b, "k", "from-b").unwrap();
    gossip(&mut a, "b", &out_b.published[0]);
    gossip(&mut b, "a", &out_a.published[0]);
    assert_eq!(a.get("k").unwrap().as_deref(), Some("from-b"));
    assert_eq!(b.get("k").unwrap().as_deref(), Some("from-b"));
}

#[test]
fn a_restarted_node_stamps_after_everything_it_stored() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    let first = a.put(&mut Outbox::default(), "k", "1").unwrap();
    let store = a.into_store();
    clock.set(START - 60_000); // the wall clock went back across the restart
    let mut a = node_on("a", &clock, Config::default(), store);
    let second = a.put(&mut Outbox::default(), "k", "2").unwrap();
    assert!(second.version > first.version);
    assert_eq!(a.get("k").unwrap().as_deref(), Some("2"));
}

/// A clock whose wall time can step while its monotonic time runs on.
#[derive(Clone, Default)]
struct SteppedClock {
    wall: std::rc::Rc<std::cell::Cell<u64>>,
    monotonic: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> u64 {
        self.wall.get()
    }
    fn monotonic_ms(&self) -> u64 {
        self.monotonic.get()
    }
}

#[test]
fn a_wall_clock_stepping_back_does_not_stall_anti_entropy() {
    let clock = SteppedClock::default();
    clock.wall.set(START);
    let mut b = NodeCore::new(
        p("b"),
        identity("b"),
        Config::default(),
        MemoryStore::new(),
        clock.clone(),
        1,
    );
    let mut out = Outbox::default();
    b.handle_peer_up(&mut out, &p("a")); // "a" < "b": b does not open a reconciliation on connect
    clock.wall.set(START - 3_600_000); // NTP steps the clock back an hour
    for second in 1..=31 {
        clock.monotonic.set(second * 1000);
        b.handle_timeout(&mut out);
    }
    assert_eq!(out.sent.len(), 1, "the 30 s anti-entropy round still ran");
    assert_eq!(out.sent[0].0, "a");
}

#[test]
fn equal_stores_reconcile_in_one_round_trip_with_tiny_messages() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let mut out = Outbox::default();
    for i in 0..1000 {
        let write = a.put(&mut out, &format!("k{i}"), "v").unwrap();
        b.handle_gossip(
            &mut Outbox::default(),
            &p("a"),
            &p("a"),
            &wire::encode_write(&write),
        )
        .unwrap();
    }
    let (messages, bytes) = connect(&mut a, &mut b);
    assert_eq!(messages, 2);
    assert!(bytes < 40, "{bytes} bytes");
}

#[test]
fn reconciliation_brings_both_sides_everything_including_tombstones() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let mut out = Outbox::default();
    for i in 0..300 {
        a.put(&mut out, &format!("a{i}"), "from a").unwrap();
        b.put(&mut out, &format!("b{i}"), "from b").unwrap();
    }
    clock.advance(10);
    b.delete(&mut out, "b7").unwrap();
    connect(&mut a, &mut b);
    assert_eq!(digest(a.store()).unwrap(), digest(b.store()).unwrap());
    assert_eq!(a.store().live().unwrap().len(), 599);
    assert_eq!(a.get("b7").unwrap(), None);
    assert_eq!(
        a.counters().reconciled_writes_received + b.counters().reconciled_writes_received,
        600
    );
}

#[test]
fn writes_learnt_by_reconciliation_spread_to_the_other_peers() {
    let clock = ManualClock::new(START);
    let (mut a, mut b, mut c) = (node("a", &clock), node("b", &clock), node("c", &clock));
    a.put(&mut Outbox::default(), "k", "v").unwrap(); // its gossip is lost
    let mut outboxes: Vec<Outbox> = (0..3).map(|_| Outbox::default()).collect();
    b.handle_peer_up(&mut outboxes[1], &p("c"));
    c.handle_peer_up(&mut outboxes[2], &p("b"));
    run_direct(&mut [&mut a, &mut b, &mut c], outboxes);
    assert_eq!(c.get("k").unwrap(), None);
    let mut outboxes: Vec<Outbox> = (0..3).map(|_| Outbox::default()).collect();
    a.handle_peer_up(&mut outboxes[0], &p("b"));
    b.handle_peer_up(&mut outboxes[1], &p("a"));
    run_direct(&mut [&mut a, &mut b, &mut c], outboxes);
    assert_eq!(c.get("k").unwrap(), None, "b passes it on a little later");
    clock.advance(Config::default().spread_delay_ms);
    let mut outboxes: Vec<Outbox> = (0..3).map(|_| Outbox::default()).collect();
    b.handle_timeout(&mut outboxes[1]);
    run_direct(&mut [&mut a, &mut b, &mut c], outboxes);
    assert_eq!(
        c.get("k").unwrap().as_deref(),
        Some("v"),
        "c is not connected to a"
    );
}

#[test]
fn reconciliation_of_a_large_difference_resizes_its_tables() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let entries: Vec<(String, String)> = (0..20_000)
        .map(|i| (format!("key{i}"), "value".to_string()))
        .collect();
    a.put_many(&mut Outbox::default(), &entries).unwrap();
    connect(&mut a, &mut b);
    assert_eq!(digest(a.store()).unwrap(), digest(b.store()).unwrap());
}

/// A store that fails the test when anything scans it: reconciliation answers every message
/// from the tally and by id.
#[derive(Debug, Clone)]
struct NoScanStore(MemoryStore);

impl Store for NoScanStore {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, crate::store::StoreError> {
        self.0.apply(writes)
    }
    fn get(&self, key: &str) -> Result<Option<Write>, crate::store::StoreError> {
        self.0.get(key)
    }
    fn live(&self) -> Result<Vec<(String, String)>, crate::store::StoreError> {
        self.0.live()
    }
    fn for_each(&self, _: &mut dyn FnMut(Write)) -> Result<(), crate::store::StoreError> {
        panic!("a reconciliation message scanned the store")
    }
    fn writes_with_ids(
        &self,
        ids: &std::collections::HashSet<u64>,
        max_bytes: usize,
    ) -> Result<Vec<Write>, crate::store::StoreError> {
        self.0.writes_with_ids(ids, max_bytes)
    }
    fn tally(&self) -> &crate::store::Tally {
        self.0.tally()
    }
}

#[test]
fn no_reconciliation_message_scans_the_store_whatever_the_difference() {
    let clock = ManualClock::new(START);
    let mut writer = node("a", &clock);
    let entries: Vec<(String, String)> = (0..40_000)
        .map(|i| (format!("key{i}"), "value".to_string()))
        .collect();
    writer.put_many(&mut Outbox::default(), &entries).unwrap();
    let full = writer.store().clone();
    let subset = |count: usize| {
        let mut store = MemoryStore::new();
        let writes: Vec<Write> = entries[..count]
            .iter()
            .map(|(key, _)| full.get(key).unwrap().unwrap())
            .collect();
        store.apply(&writes).unwrap();
        store
    };
    let mut one_newer = full.clone();
    let mut newer = testkit::write("key0", Some("newer"), START + 1, "a");
    auth::sign(&auth::NamedKeys::signing_key("a"), &mut newer);
    one_newer.apply(&[newer]).unwrap();
    // (a's store, b's store): a difference the probe settles, one a sketch settles, and two
    // that take pages of ids (b lists its ids; a holds more than a page in b's only page).
    let cases = [
        (full.clone(), one_newer),
        (full.clone(), subset(35_000)),
        (full.clone(), subset(10)),
        (subset(10), full.clone()),
    ];
    for (case, (store_a, store_b)) in cases.into_iter().enumerate() {
        let config = node("a", &clock).config().clone();
        let make = |id: &str, store: MemoryStore| {
            NodeCore::new(
                p(id),
                identity(id),
                config.clone(),
                NoScanStore(store),
                clock.clone(),
                1,
            )
        };
        let (mut a, mut b) = (make("a", store_a), make("b", store_b));
        let traffic = testkit::connect(&mut a, &mut b).unwrap();
        let stores = [a.store().summary(), b.store().summary()];
        assert_eq!(
            stores[0],
            stores[1],
            "case {case}: {traffic:?} {:?} {:?}",
            a.counters(),
            b.counters()
        );
        assert_eq!(stores[0].count, 40_000, "case {case}");
    }
}

#[test]
fn garbage_on_the_direct_protocol_is_counted_not_fatal() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let mut out = Outbox::default();
    b.handle_direct(&mut out, &p("x"), b"\xff\xff\xff\xff")
        .unwrap();
    b.handle_direct(&mut out, &p("x"), &vec![0; 2 << 20])
        .unwrap();
    ask_for_table(&mut b, "x");
    // A `Sketch` (variant 4, attempt 0) of 30 cells: not a size a table can fold to.
    let mut bad_sketch = vec![4u8, 0];
    bad_sketch.extend(postcard::to_allocvec(&vec![0u8; 30 * iblt::CELL_BYTES]).unwrap());
    b.handle_direct(&mut out, &p("x"), &bad_sketch).unwrap();
    assert_eq!(
        (
            b.counters().dropped.malformed,
            b.counters().dropped.too_large
        ),
        (2, 1)
    );
}

#[test]
fn a_resize_request_no_honest_peer_sends_is_dropped_not_obeyed() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let mut out = Outbox::default();
    let huge = reconciliation::encode(&reconciliation::ReconcileMessage::SketchTooSmall {
        attempt: 0,
        cells: u32::MAX,
    });
    sketch_from(&mut b, "x");
    b.handle_direct(&mut out, &p("x"), &huge).unwrap();
    assert_eq!(b.counters().dropped.unsolicited, 1, "not the sketch b sent");
    assert!(out.sent.is_empty(), "no table is built for it");
}

/// Opens an exchange from `peer` with `node` and asks it for a sketch with an `Estimate`
/// (claiming a difference of its whole store); returns the sketch's attempt and cells.
fn sketch_from(node: &mut Node, peer: &str) -> (u8, u32) {
    open_exchange(node, peer);
    let estimate = reconciliation::encode(&reconciliation::ReconcileMessage::Estimate {
        count: u64::MAX,
        strata: Default::default(),
    });
    let mut out = Outbox::default();
    node.handle_direct(&mut out, &p(peer), &estimate).unwrap();
    match &answers(&out)[..] {
        [reconciliation::ReconcileMessage::Sketch { attempt, table }] => {
            (*attempt, table.len() as u32)
        }
        other => panic!("{other:?}"),
    }
}

/// The direct messages in `out`, decoded.
fn answers(out: &Outbox) -> Vec<reconciliation::ReconcileMessage> {
    out.sent
        .iter()
        .map(|(_, bytes)| reconciliation::decode(bytes, 1 << 20).unwrap())
        .collect()
}

/// Has `node` (whose id sorts before `peer`) open a session with `peer` and ask it for a table
/// (`Estimate`), as it does when `peer`'s `Probe` does not peel.
fn ask_for_table(node: &mut Node, peer: &str) {
    assert!(node.id().as_str() < peer);
    node.handle_peer_up(&mut Outbox::default(), &p(peer));
    let mut table = iblt::Iblt::new(reconciliation::PROBE_CELLS);
    (0..1_000u64).for_each(|i| table.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let probe = reconciliation::encode(&reconciliation::ReconcileMessage::Probe { table });
    let mut out = Outbox::default();
    node.handle_direct(&mut out, &p(peer), &probe).unwrap();
    assert!(
        matches!(
            &answers(&out)[..],
            [reconciliation::ReconcileMessage::Estimate { .. }]
        ),
        "{:?}",
        answers(&out)
    );
}

#[test]
fn a_sketch_is_resized_once_per_report_at_the_size_it_was_sent() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    b.put(&mut Outbox::default(), "k", "v").unwrap();
    let too_small = |attempt, cells| {
        reconciliation::encode(&reconciliation::ReconcileMessage::SketchTooSmall { attempt, cells })
    };
    let mut out = Outbox::default();
    // Before: any peer with an exchange open got a sketch of twice the size it named (786 KB
    // for 9 bytes), as often as it asked.
    open_exchange(&mut b, "x");
    let largest = reconciliation::MAX_SKETCH_CELLS as u32 / 2;
    b.handle_direct(&mut out, &p("x"), &too_small(0, largest))
        .unwrap();
    assert!(out.sent.is_empty(), "no sketch was sent");
    assert_eq!(b.counters().dropped.unsolicited, 1);
    let (attempt, cells) = sketch_from(&mut b, "x");
    b.handle_direct(&mut out, &p("x"), &too_small(attempt, cells * 2))
        .unwrap();
    assert!(out.sent.is_empty(), "not the size it was sent at");
    b.handle_direct(&mut out, &p("x"), &too_small(attempt, cells))
        .unwrap();
    assert!(
        matches!(&answers(&out)[..], [reconciliation::ReconcileMessage::Sketch { attempt: 1, table }] if table.len() as u32 == cells * 2),
        "{:?}",
        answers(&out)
    );
    b.handle_direct(&mut out, &p("x"), &too_small(attempt, cells))
        .unwrap();
    assert_eq!(out.sent.len(), 1, "that report is answered once");
    assert_eq!(b.counters().dropped.unsolicited, 3);
}

#[test]
fn a_peer_stepping_through_a_listing_gets_ids_in_proportion() {
    let clock = ManualClock::new(START);
    let entries: Vec<(String, String)> =
        (0..20_000).map(|i| (format!("k{i}"), "v".into())).collect();
    let mut b = node("b", &clock);
    b.put_many(&mut Outbox::default(), &entries).unwrap();
    // A peer that moves past the whole page gets the next whole page.
    let mut out = Outbox::default();
    start_listing(&mut b, "y", &mut out);
    let [reconciliation::ReconcileMessage::Ids { to, ids, .. }] = &answers(&out)[..] else {
        panic!("the first page");
    };
    assert_eq!(ids.len(), reconciliation::MAX_IDS_PER_PAGE);
    let request =
        reconciliation::encode(&reconciliation::ReconcileMessage::IdsFrom { from: to + 1 });
    let mut out = Outbox::default();
    b.handle_direct(&mut out, &p("y"), &request).unwrap();
    let [reconciliation::ReconcileMessage::Ids { ids, .. }] = &answers(&out)[..] else {
        panic!("a page");
    };
    assert_eq!(ids.len(), 20_000 - reconciliation::MAX_IDS_PER_PAGE);
    // One moving forward an id at a time gets a page of at most twice the ids it moved
    // past, and one, each time (before: a full page of 16,384 ids each time).
    let mut out = Outbox::default();
    start_listing(&mut b, "x", &mut out);
    let [reconciliation::ReconcileMessage::Ids { ids, .. }] = &answers(&out)[..] else {
        panic!("the first page");
    };
    let mut from = ids[0];
    let (mut asked, mut answered) = (0, 0);
    for _ in 0..100 {
        from += 1;
        let request = reconciliation::encode(&reconciliation::ReconcileMessage::IdsFrom { from });
        let mut out = Outbox::default();
        b.handle_direct(&mut out, &p("x"), &request).unwrap();
        asked += request.len();
        answered += out.sent.iter().map(|(_, bytes)| bytes.len()).sum::<usize>();
        let [reconciliation::ReconcileMessage::Ids { ids, .. }] = &answers(&out)[..] else {
            panic!("a page");
        };
        assert!(ids.len() <= 3, "{}", ids.len());
        from = ids[0];
    }
    assert!(
        answered <= 10 * asked,
        "{answered} bytes answered for {asked} asked"
    );
}

/// Opens an exchange from `peer` with `node` and has it list its ids, with an `Estimate`
/// claiming a difference past the largest sketch; the first page goes to `out`.
fn start_listing(node: &mut Node, peer: &str, out: &mut Outbox) {
    open_exchange(node, peer);
    let mut strata = node.store().tally().strata.clone();
    (0..100_000u64).for_each(|i| strata.insert(i.wrapping_mul(0x2545_f491_4f6c_dd1d)));
    let estimate = reconciliation::encode(&reconciliation::ReconcileMessage::Estimate {
        count: u64::MAX,
        strata,
    });
    node.handle_direct(out, &p(peer), &estimate).unwrap();
}

#[test]
fn a_sketch_that_fails_its_last_attempt_is_followed_by_a_listing_of_ids() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    b.put(&mut Outbox::default(), "k", "v").unwrap();
    let (mut attempt, mut cells) = sketch_from(&mut b, "x");
    let out = loop {
        let too_small = reconciliation::encode(&reconciliation::ReconcileMessage::SketchTooSmall {
            attempt,
            cells,
        });
        let mut out = Outbox::default();
        b.handle_direct(&mut out, &p("x"), &too_small).unwrap();
        match &answers(&out)[..] {
            [reconciliation::ReconcileMessage::Sketch { attempt: a, table }] => {
                (attempt, cells) = (*a, table.len() as u32);
            }
            _ => break out,
        }
    };
    assert_eq!(attempt, reconciliation::MAX_SKETCH_ATTEMPTS);
    let answers = answers(&out);
    assert!(
        matches!(&answers[..], [reconciliation::ReconcileMessage::Ids { from: 0, to: u64::MAX, ids }] if ids.len() == 1),
        "{answers:?}"
    );
}

#[test]
fn an_id_page_is_sent_once_per_listing() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    b.put(&mut Outbox::default(), "k", "v").unwrap();
    open_exchange(&mut b, "x");
    let encode = |message| reconciliation::encode(&message);
    let ids_from = |from| encode(reconciliation::ReconcileMessage::IdsFrom { from });
    let mut out = Outbox::default();
    b.handle_direct(&mut out, &p("x"), &ids_from(1)).unwrap();
    assert_eq!(b.counters().dropped.unsolicited, 1, "no listing under way");
    out = Outbox::default();
    start_listing(&mut b, "x", &mut out);
    assert_eq!(out.sent.len(), 1, "the first page, 0..=u64::MAX");
    b.handle_direct(&mut out, &p("x"), &ids_from(0)).unwrap();
    assert_eq!(b.counters().dropped.unsolicited, 2, "the same page again");
    b.handle_direct(&mut out, &p("x"), &ids_from(5)).unwrap();
    assert_eq!(out.sent.len(), 2, "a page further on");
    b.handle_direct(&mut out, &p("x"), &ids_from(5)).unwrap();
    assert_eq!(
        b.counters().dropped.unsolicited,
        3,
        "and that one only once"
    );
}

/// An `Outbox` whose peers have not taken `backlog` bytes sent to them.
struct Backlogged {
    out: Outbox,
    backlog: usize,
}

impl Transport<String> for Backlogged {
    fn publish(&mut self, payload: Vec<u8>) {
        self.out.publish(payload);
    }

    fn send(&mut self, peer: &String, payload: Vec<u8>) {
        self.out.send(peer, payload);
    }

    fn backlog_bytes(&self, _peer: &String) -> usize {
        self.backlog
    }

    fn notify(&mut self, event: Event<String>) {
        self.out.notify(event);
    }
}

#[test]
fn a_peer_that_does_not_take_its_answers_gets_no_more() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let write = b.put(&mut Outbox::default(), "k", "v").unwrap();
    open_exchange(&mut b, "x");
    let want = reconciliation::encode(&reconciliation::ReconcileMessage::Records {
        writes: Vec::new(),
        want: vec![write.id()],
        offer: Vec::new(),
    });
    let mut net = Backlogged {
        out: Outbox::default(),
        backlog: 4 << 20,
    };
    b.handle_direct(&mut net, &p("x"), &want).unwrap();
    assert!(net.out.sent.is_empty(), "4 MiB untaken: no answer");
    assert_eq!(b.counters().dropped.rate_limited, 1);
    let pushed = node("x", &clock)
        .put(&mut Outbox::default(), "pushed", "v")
        .unwrap();
    let push_and_want = reconciliation::encode(&reconciliation::ReconcileMessage::Records {
        writes: vec![pushed],
        want: vec![write.id()],
        offer: Vec::new(),
    });
    b.handle_direct(&mut net, &p("x"), &push_and_want).unwrap();
    assert!(net.out.sent.is_empty(), "still no answer");
    assert!(
        b.store().get("pushed").unwrap().is_some(),
        "but the writes it brings are taken"
    );
    net.backlog = 1 << 20;
    b.handle_direct(&mut net, &p("x"), &want).unwrap();
    assert_eq!(
        net.out.sent.len(),
        1,
        "an answer once the peer takes what it got"
    );
}

/// Opens a reconciliation from `peer` with `node` as the protocol does (a `Hello` that does
/// not match), dropping the answer.
fn open_exchange(node: &mut Node, peer: &str) {
    let hello = reconciliation::encode(&reconciliation::ReconcileMessage::Hello {
        count: 1,
        fingerprint: 1,
    });
    node.handle_direct(&mut Outbox::default(), &p(peer), &hello)
        .unwrap();
}

#[test]
fn reconciliation_messages_out_of_order_are_refused_unanswered() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    let mut writer = node("x", &clock);
    let mut out = Outbox::default();
    let write = writer.put(&mut Outbox::default(), "k", "v").unwrap();
    let records = reconciliation::encode(&reconciliation::ReconcileMessage::Records {
        writes: vec![write],
        want: Vec::new(),
        offer: Vec::new(),
    });
    let estimate = reconciliation::encode(&reconciliation::ReconcileMessage::Estimate {
        count: u64::MAX,
        strata: Default::default(),
    });
    b.handle_direct(&mut out, &p("x"), &records).unwrap();
    b.handle_direct(&mut out, &p("x"), &estimate).unwrap();
    assert_eq!(b.counters().dropped.unsolicited, 2);
    assert_eq!(
        b.get("k").unwrap(),
        None,
        "unsolicited records store nothing"
    );
    assert!(out.sent.is_empty(), "and are not answered");
    open_exchange(&mut b, "x");
    b.handle_direct(&mut out, &p("x"), &estimate).unwrap();
    assert!(
        out.sent.len() <= 1,
        "an estimate is answered with one sketch or id page at most"
    );
    b.handle_direct(&mut out, &p("x"), &records).unwrap();
    assert_eq!(
        b.get("k").unwrap().as_deref(),
        Some("v"),
        "inside an exchange"
    );
}

#[test]
fn a_quiet_exchange_ends_at_its_timeout_not_at_the_next_round() {
    // Before the timer table, `poll_timeout` folded only anti-entropy and reconciliations due:
    // a quiet exchange lived on until the next anti-entropy round, and took late answers.
    let clock = ManualClock::new(START);
    let config = Config {
        anti_entropy_interval_ms: 3_600_000,
        ..Config::default()
    };
    let mut b = node_on("b", &clock, config.clone(), MemoryStore::new());
    open_exchange(&mut b, "x");
    let quiet_end = START + config.session_timeout_ms;
    assert_eq!(b.poll_timeout(), quiet_end, "woken when the exchange ends");
    clock.set(quiet_end);
    b.handle_timeout(&mut Outbox::default());
    let estimate = reconciliation::encode(&reconciliation::ReconcileMessage::Estimate {
        count: 1,
        strata: Default::default(),
    });
    b.handle_direct(&mut Outbox::default(), &p("x"), &estimate)
        .unwrap();
    assert_eq!(b.counters().dropped.unsolicited, 1, "the exchange is over");
}

#[test]
fn a_session_opened_while_answering_the_peers_keeps_the_estimate_it_asked_for() {
    // Found by the explorer (seed 4): with slow links, "a" answered z's `Hello` with a
    // `Probe`, then opened its own session with z before z's `Estimate` arrived.
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    open_exchange(&mut a, "z");
    let mut out = Outbox::default();
    a.handle_peer_up(&mut out, &p("z")); // "a" < "z": a opens its own session
    assert_eq!(out.sent.len(), 1, "a's own Hello");
    let estimate = reconciliation::encode(&reconciliation::ReconcileMessage::Estimate {
        count: 1,
        strata: Default::default(),
    });
    a.handle_direct(&mut out, &p("z"), &estimate).unwrap();
    assert_eq!(a.counters().dropped.unsolicited, 0);
    assert_eq!(
        out.sent.len(),
        2,
        "the estimate is answered with a sketch part"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Tables of random cells in any message that carries one: the node answers or drops them,
    /// always finishes, and sends nothing over the message limit.
    #[test]
    fn random_tables_from_a_peer_never_hang_or_crash_a_node(
        cells in prop::collection::vec(any::<(i32, u64, u32)>(), 1..40),
        third in 0..5u32,
    ) {
        let clock = ManualClock::new(START);
        let mut b = node("b", &clock);
        let entries: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
        b.put_many(&mut Outbox::default(), &entries).unwrap();
        let mut bytes = Vec::new();
        for (count, id_sum, check_sum) in cells.iter().cycle().take(3 << third) {
            bytes.extend_from_slice(&count.to_le_bytes());
            bytes.extend_from_slice(&id_sum.to_le_bytes());
            bytes.extend_from_slice(&check_sum.to_le_bytes());
        }
        let table = iblt::Iblt::try_from(bytes.as_slice()).unwrap();
        let mut out = Outbox::default();
        // b asked x for both: its `Hello` for the probe, and the `Estimate` that answers a
        // probe that does not peel for the sketch.
        b.handle_peer_up(&mut Outbox::default(), &p("x"));
        for message in [
            reconciliation::ReconcileMessage::Probe { table: table.clone() },
            reconciliation::ReconcileMessage::Sketch { attempt: 0, table },
        ] {
            b.handle_direct(&mut out, &p("x"), &reconciliation::encode(&message)).unwrap();
        }
        for (_, payload) in &out.sent {
            prop_assert!(payload.len() <= b.config().max_message_bytes);
        }
    }
}

/// One write made by a node in a random history: (origin, key, value or delete, clock step).
fn history() -> impl Strategy<Value = Vec<(usize, u8, Option<u8>, u8)>> {
    prop::collection::vec((0..3usize, 0..4u8, prop::option::of(0..5u8), 0..3u8), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any delivery order, with duplicates, gives every replica the same store, equal to the
    /// last write per key in the total order.
    #[test]
    fn replicas_converge_whatever_the_delivery_order(history in history(), seed in any::<u64>()) {
        let clock = ManualClock::new(START);
        let mut nodes: Vec<Node> = ["n0", "n1", "n2"].iter().map(|id| node(id, &clock)).collect();
        let mut messages = Vec::new();
        let mut writes = Vec::new();
        for (origin, key, value, step) in history {
            clock.advance(u64::from(step)); // steps of 0 give equal wall clocks on different nodes
            let mut out = Outbox::default();
            let key = format!("k{key}");
            let write = match value {
                Some(v) => nodes[origin].put(&mut out, &key, &format!("v{v}")).unwrap(),
                None => nodes[origin].delete(&mut out, &key).unwrap().0,
            };
            writes.push(write);
            messages.push((origin, out.published.remove(0)));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for node in nodes.iter_mut() {
            let mut deliveries: Vec<&(usize, Vec<u8>)> = messages.iter().chain(messages.iter().filter(|_| rng.random_bool(0.3))).collect();
            deliveries.shuffle(&mut rng);
            for (origin, payload) in deliveries {
                let author = format!("n{origin}");
                prop_assert_eq!(node.handle_gossip(&mut Outbox::default(), &author, &author, payload).unwrap(), Verdict::Accept);
            }
        }
        let mut expected = MemoryStore::new();
        expected.apply(&writes).unwrap();
        let want = digest(&expected).unwrap();
        for node in &nodes {
            prop_assert_eq!(digest(node.store()).unwrap(), want);
        }
    }

    /// Two stores with random contents and random overlap reconcile to identical contents.
    #[test]
    fn two_random_stores_reconcile_to_the_same_contents(
        shared in prop::collection::btree_map("[a-z]{1,6}", "[a-z]{0,5}", 0..200),
        only_a in prop::collection::btree_map("[a-z]{1,6}", "[a-z]{0,5}", 0..100),
        only_b in prop::collection::btree_map("[a-z]{1,6}", "[a-z]{0,5}", 0..100),
    ) {
        let clock = ManualClock::new(START);
        let (mut a, mut b) = (node("a", &clock), node("b", &clock));
        let shared: Vec<(String, String)> = shared.into_iter().collect();
        let made: Vec<Write> = a
            .put_many(&mut Outbox::default(), &shared)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        for message in wire::encode_writes(&made, 1 << 20) {
            gossip(&mut b, "a", &message);
        }
        clock.advance(1);
        a.put_many(&mut Outbox::default(), &only_a.into_iter().collect::<Vec<_>>()).unwrap();
        b.put_many(&mut Outbox::default(), &only_b.into_iter().collect::<Vec<_>>()).unwrap();
        connect(&mut a, &mut b);
        prop_assert_eq!(digest(a.store()).unwrap(), digest(b.store()).unwrap());
    }
}

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A node `name` whose store already holds `writes` (however they got there).
fn node_holding(name: &str, clock: &ManualClock, writes: &[Write]) -> Node {
    let mut store = MemoryStore::new();
    store.apply(writes).unwrap();
    node_on(name, clock, Config::default(), store)
}

#[test]
fn reconciliation_drops_writes_their_origin_did_not_sign() {
    let clock = ManualClock::new(START);
    let mut victims_write = testkit::write("owned", Some("by c"), START - 10, "c");
    auth::sign(&auth::NamedKeys::signing_key("c"), &mut victims_write);
    let mut replayed = victims_write.clone();
    replayed.value = Some("by c, says b".into()); // same version, larger value, c's signature
    let mut claimed = testkit::write("claimed", Some("by c"), START - 10, "c");
    auth::sign(&auth::NamedKeys::signing_key("b"), &mut claimed); // b signs as c
    let unsigned_as_c = testkit::write("unsigned", Some("by c"), START - 10, "c");
    let unsigned_own = testkit::write("own", Some("by b"), START - 10, "b");
    let mut a = node("a", &clock);
    let mut b = node_holding("b", &clock, &[unsigned_as_c, unsigned_own]);
    connect(&mut a, &mut b);
    // b does not offer the unsigned write of c's (it could not prove it).
    assert_eq!(
        a.get("own").unwrap().as_deref(),
        Some("by b"),
        "b vouches for its own"
    );
    // Each forged write ends the message that carries it: a's count of forged writes is one
    // per message, and b gets a strike each.
    for forged in [replayed, claimed] {
        let mut a = node("a", &clock);
        let mut b = node_holding("b", &clock, &[forged]);
        connect(&mut a, &mut b);
        assert_eq!(a.counters().dropped.forged, 1);
        assert_eq!(a.strikes(&p("b")), 1);
    }
    for key in ["owned", "claimed", "unsigned"] {
        assert_eq!(a.get(key).unwrap(), None, "{key}");
    }
}

#[test]
fn gossip_drops_a_write_whose_signature_was_tampered_with() {
    let clock = ManualClock::new(START);
    let (mut a, mut b) = (node("a", &clock), node("b", &clock));
    let mut out = Outbox::default();
    a.put(&mut out, "k", "v").unwrap();
    let tampered = String::from_utf8(out.published[0].clone())
        .unwrap()
        .replace(r#""value":"v""#, r#""value":"w""#);
    assert_eq!(gossip(&mut b, "a", tampered.as_bytes()), Verdict::Reject);
    assert_eq!(b.counters().dropped.forged, 1);
    assert_eq!(gossip(&mut b, "a", &out.published[0]), Verdict::Accept);
    assert_eq!(b.get("k").unwrap().as_deref(), Some("v"));
}

#[test]
fn writes_by_authors_off_the_allow_list_are_refused_on_gossip_even_when_relayed() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    a.set_membership(Membership::closed(["b"]));
    let mut out = Outbox::default();
    let put = |key: &str| {
        format!(r#"{{"Put":{{"key":"{key}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}"#)
    };
    assert_eq!(gossip(&mut a, "b", put("by-b").as_bytes()), Verdict::Accept);
    assert_eq!(gossip(&mut a, "c", put("by-c").as_bytes()), Verdict::Ignore);
    let relayed = a
        .handle_gossip(&mut out, &p("c"), &p("b"), put("by-c-via-b").as_bytes())
        .unwrap();
    assert_eq!(relayed, Verdict::Ignore);
    assert_eq!(a.get("by-b").unwrap().as_deref(), Some("v"));
    assert_eq!(a.get("by-c").unwrap(), None);
    assert_eq!(a.get("by-c-via-b").unwrap(), None);
    assert_eq!(a.counters().dropped.not_allowed, 2);
    assert!(matches!(
        &out.events[..],
        [Event::Dropped {
            reason: DropReason::NotAllowed,
            ..
        }]
    ));
}

#[test]
fn reconciliation_refuses_writes_by_unlisted_authors_and_revocation_keeps_old_writes() {
    let clock = ManualClock::new(START);
    let (mut a, mut b, mut c) = (node("a", &clock), node("b", &clock), node("c", &clock));
    let mut out = Outbox::default();
    b.put(&mut out, "from-b", "1").unwrap();
    c.put(&mut out, "from-c", "1").unwrap();
    connect(&mut b, &mut c);
    assert_eq!(b.get("from-c").unwrap().as_deref(), Some("1"));
    a.set_membership(Membership::closed(["b"]));
    connect(&mut a, &mut b);
    assert_eq!(a.get("from-b").unwrap().as_deref(), Some("1"));
    assert_eq!(a.get("from-c").unwrap(), None, "c's write relayed by b");
    assert!(a.counters().dropped.not_allowed >= 1);

    let mut revoked = a.membership().clone();
    revoked.remove("b");
    a.set_membership(revoked);
    clock.advance(10);
    b.put(&mut out, "after-removal", "1").unwrap();
    a.handle_peer_down(&p("b"));
    connect(&mut a, &mut b);
    assert_eq!(a.get("after-removal").unwrap(), None);
    assert_eq!(
        a.get("from-b").unwrap().as_deref(),
        Some("1"),
        "old writes stay"
    );
}

#[test]
fn members_get_higher_limits_than_strangers() {
    let clock = ManualClock::new(START);
    let mut a = default_node("a", &clock);
    let mut out = Outbox::default();
    let mut send = |a: &mut NodeCore<MemoryStore, ManualClock>, author: &str| {
        for i in 0..300 {
            let message = format!(
                r#"{{"Put":{{"key":"{author}{i}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}"#
            );
            a.handle_gossip(&mut out, &p(author), &p(author), message.as_bytes())
                .unwrap();
        }
    };
    send(&mut a, "stranger");
    assert_eq!(
        a.counters().applied,
        100,
        "an open node: everyone is a stranger"
    );
    let mut b = default_node("b", &clock);
    b.set_membership(Membership::closed(["member"]));
    send(&mut b, "member");
    assert_eq!(
        (b.counters().applied, b.counters().dropped.rate_limited),
        (300, 0)
    );
}

#[test]
fn a_node_catching_up_from_two_peers_at_once_asks_each_write_of_one() {
    const WRITES: usize = 6_000;
    let clock = ManualClock::new(START);
    let entries: Vec<(String, String)> =
        (0..WRITES).map(|i| (format!("k{i}"), "v".into())).collect();
    let writes: Vec<Write> = node("o", &clock)
        .put_many(&mut Outbox::default(), &entries)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut a = node_holding("a", &clock, &writes);
    let mut b = node_holding("b", &clock, &writes);
    let mut n = node("n", &clock);
    let mut outboxes = vec![Outbox::default(), Outbox::default(), Outbox::default()];
    n.handle_peer_up(&mut outboxes[0], &p("a"));
    n.handle_peer_up(&mut outboxes[0], &p("b"));
    a.handle_peer_up(&mut outboxes[1], &p("n"));
    b.handle_peer_up(&mut outboxes[2], &p("n"));
    testkit::pump(&mut [&mut n, &mut a, &mut b], &mut outboxes).unwrap();
    assert_eq!(digest(n.store()).unwrap(), digest(a.store()).unwrap());
    let received = n.counters().reconciled_writes_received as usize;
    // Each peer pushes what one answer holds before anything is asked; after that, no write
    // is asked of both.
    assert!(
        received <= WRITES + 2 * reconciliation::MAX_LOOKUPS_PER_WANT,
        "{received} writes received for {WRITES}"
    );
}

/// `writes` from `peer` as one reconciliation `Records`.
fn records(writes: Vec<Write>) -> Vec<u8> {
    reconciliation::encode(&reconciliation::ReconcileMessage::Records {
        writes,
        want: Vec::new(),
        offer: Vec::new(),
    })
}

/// `count` writes signed by node `origin`, keys `{prefix}{i}`.
fn signed_writes(origin: &str, prefix: &str, count: usize, clock: &ManualClock) -> Vec<Write> {
    let entries: Vec<(String, String)> = (0..count)
        .map(|i| (format!("{prefix}{i}"), "v".into()))
        .collect();
    node(origin, clock)
        .put_many(&mut Outbox::default(), &entries)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn no_peer_makes_a_node_store_an_unsigned_write_of_origin_legacy() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    a.put(&mut Outbox::default(), "k", "mine").unwrap();
    clock.advance(1_000);
    let anonymous = testkit::write("k", Some("theirs"), START + 500, auth::LEGACY_ORIGIN);
    open_exchange(&mut a, "x");
    a.handle_direct(&mut Outbox::default(), &p("x"), &records(vec![anonymous]))
        .unwrap();
    assert_eq!(
        a.get("k").unwrap().as_deref(),
        Some("mine"),
        "by reconciliation"
    );
    // On gossip, a peer whose id reads `legacy` (the simulator's names can) is refused too.
    let put = r#"{"Put":{"key":"k","value":"theirs","timestamp":"2025-01-04T08:30:15Z"}}"#;
    assert_eq!(
        gossip(&mut a, auth::LEGACY_ORIGIN, put.as_bytes()),
        Verdict::Reject
    );
    assert_eq!(a.get("k").unwrap().as_deref(), Some("mine"), "by gossip");
    assert_eq!(a.counters().dropped.invalid, 2);
    assert_eq!(a.counters().dropped.forged, 0, "refused, not a strike");
}

#[test]
fn a_nodes_own_legacy_rows_are_not_sent_by_reconciliation() {
    let clock = ManualClock::new(START);
    let imported = testkit::write("old", Some("row"), START - 10, auth::LEGACY_ORIGIN);
    let mut a = node_holding("a", &clock, &[imported]);
    let mut b = node("b", &clock);
    connect(&mut a, &mut b);
    assert_eq!(a.get("old").unwrap().as_deref(), Some("row"));
    assert_eq!(b.get("old").unwrap(), None);
    assert_eq!(b.counters().reconciled_writes_received, 0, "not even sent");
}

#[test]
fn a_records_message_with_a_forged_write_is_dropped_whole_and_strikes_its_sender() {
    let clock = ManualClock::new(START);
    let mut writes = signed_writes("x", "k", 3, &clock);
    writes[1].value = Some("tampered".into());
    let mut a = node("a", &clock);
    open_exchange(&mut a, "x");
    let mut out = Outbox::default();
    a.handle_direct(&mut out, &p("x"), &records(writes))
        .unwrap();
    assert_eq!(
        a.get("k0").unwrap(),
        None,
        "the valid write before it is dropped too"
    );
    assert_eq!(
        a.get("k2").unwrap(),
        None,
        "the one after it is not checked"
    );
    assert_eq!(a.counters().dropped.forged, 1);
    assert_eq!(a.counters().applied, 0);
    assert_eq!(a.strikes(&p("x")), 1);
    assert!(out.sent.is_empty(), "nothing answered");
    // Strikes are forgotten a drop-log interval after the last one.
    clock.advance(a.config().drop_log_interval_ms + 1);
    a.handle_timeout(&mut Outbox::default());
    assert_eq!(a.strikes(&p("x")), 0);
}

#[test]
fn a_gossip_batch_with_one_forged_write_is_rejected_whole() {
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    let mut out = Outbox::default();
    let entries: Vec<(String, String)> = (0..3).map(|i| (format!("k{i}"), "v".into())).collect();
    a.put_many(&mut out, &entries).unwrap();
    let batch = String::from_utf8(out.published[0].clone()).unwrap();
    let forged = batch.replacen(r#""value":"v""#, r#""value":"w""#, 1);
    assert_ne!(batch, forged);
    let mut b = node("b", &clock);
    b.handle_peer_up(&mut Outbox::default(), &p("f")); // f is a p2p-sync node: it checks first
    let verdict = b
        .handle_gossip(&mut Outbox::default(), &p("a"), &p("f"), forged.as_bytes())
        .unwrap();
    assert_eq!(verdict, Verdict::Reject, "never forwarded");
    assert_eq!(b.counters().applied, 0, "its valid writes neither");
    assert_eq!(b.counters().dropped.forged, 1);
    assert_eq!(
        (b.strikes(&p("f")), b.strikes(&p("a"))),
        (1, 0),
        "the forwarder is struck"
    );
    assert_eq!(gossip(&mut b, "a", batch.as_bytes()), Verdict::Accept);
    assert_eq!(b.counters().applied, 3);
}

#[test]
fn a_relay_that_cannot_check_is_not_blamed_for_a_third_partys_forged_write() {
    // The original app forwards what it cannot verify: a hostile host could otherwise get it
    // struck three times and disconnected. Its relays are ignored, not rejected or struck; the
    // author's own forged message still is.
    let clock = ManualClock::new(START);
    let mut a = node("a", &clock);
    let mut out = Outbox::default();
    a.put(&mut out, "k", "v").unwrap();
    let message = String::from_utf8(out.published[0].clone()).unwrap();
    let forged = message.replacen(r#""value":"v""#, r#""value":"w""#, 1);
    let mut b = node("b", &clock);
    for _ in 0..3 {
        let verdict = b
            .handle_gossip(
                &mut Outbox::default(),
                &p("a"),
                &p("relay"),
                forged.as_bytes(),
            )
            .unwrap();
        assert_eq!(verdict, Verdict::Ignore, "forwarded nowhere, nobody scored");
    }
    assert_eq!(b.strikes(&p("relay")), 0);
    assert_eq!(b.counters().dropped.forged, 3);
    assert_eq!(b.counters().applied, 0);
    assert_eq!(gossip(&mut b, "a", forged.as_bytes()), Verdict::Reject);
    assert_eq!(b.strikes(&p("a")), 1);
}

#[test]
fn a_gossip_batch_over_the_write_cap_is_ignored_unchecked_and_reconciled() {
    let clock = ManualClock::new(START);
    let cap = Config::default().max_writes_per_message;
    let writes = signed_writes("a", "k", cap + 1, &clock);
    let batch = &wire::encode_writes(&writes, 1 << 20)[0];
    let mut b = node("b", &clock);
    b.handle_peer_up(&mut Outbox::default(), &p("a"));
    assert_eq!(gossip(&mut b, "a", batch), Verdict::Ignore);
    assert_eq!(b.counters().applied, 0);
    assert_eq!(b.counters().dropped.too_large, 1);
    assert!(b.poll_timeout() <= clock.monotonic_ms() + b.config().reconcile_after_drop_ms);
}

#[test]
fn a_records_message_over_the_write_cap_has_the_rest_asked_for_later() {
    let clock = ManualClock::new(START);
    let cap = Config::default().max_writes_per_message;
    let writes = signed_writes("x", "k", cap + 50, &clock);
    let ids: Vec<u64> = writes[cap..].iter().map(Write::id).collect();
    let mut a = node("a", &clock);
    open_exchange(&mut a, "x");
    let mut out = Outbox::default();
    a.handle_direct(&mut out, &p("x"), &records(writes))
        .unwrap();
    assert_eq!(a.counters().applied, cap as u64, "only the cap is checked");
    let wanted: Vec<u64> = out
        .sent
        .iter()
        .flat_map(
            |(_, bytes)| match reconciliation::decode(bytes, 1 << 20).unwrap() {
                reconciliation::ReconcileMessage::Records { want, .. } => want,
                _ => Vec::new(),
            },
        )
        .collect();
    assert_eq!(wanted, ids, "the rest is asked for");
}

#[test]
fn a_nodes_own_batches_wants_and_answers_respect_the_write_cap() {
    const CAP: usize = 10;
    let clock = ManualClock::new(START);
    let config = Config {
        max_writes_per_message: CAP,
        ..node("_", &clock).config().clone()
    };
    let mut a = node_on("a", &clock, config.clone(), MemoryStore::new());
    let mut b = node_on("b", &clock, config.clone(), MemoryStore::new());
    let mut out = Outbox::default();
    let entries: Vec<(String, String)> = (0..95).map(|i| (format!("k{i}"), "v".into())).collect();
    a.put_many(&mut out, &entries).unwrap();
    assert_eq!(out.published.len(), 10);
    for message in &out.published {
        let writes = wire::decode(message, "a", config.max_message_bytes).unwrap();
        assert!(writes.len() <= CAP);
        assert_eq!(gossip(&mut b, "a", message), Verdict::Accept);
    }
    // A catch-up of 500 writes: no direct message carries more than the cap.
    let mut c = node_on("c", &clock, config.clone(), MemoryStore::new());
    let entries: Vec<(String, String)> = (0..500).map(|i| (format!("m{i}"), "v".into())).collect();
    a.put_many(&mut Outbox::default(), &entries).unwrap();
    let mut outboxes = [Outbox::default(), Outbox::default()];
    a.handle_peer_up(&mut outboxes[0], &p("c"));
    c.handle_peer_up(&mut outboxes[1], &p("a"));
    let nodes = [&mut a, &mut c];
    let mut most = 0;
    loop {
        let mut flight = Vec::new();
        for (from, outbox) in outboxes.iter_mut().enumerate() {
            flight.extend(outbox.sent.drain(..).map(|(to, bytes)| (from, to, bytes)));
        }
        if flight.is_empty() {
            break;
        }
        for (from, to, bytes) in flight {
            if let reconciliation::ReconcileMessage::Records { writes, .. } =
                reconciliation::decode(&bytes, 1 << 20).unwrap()
            {
                most = most.max(writes.len());
            }
            let target = nodes.iter().position(|n| *n.id() == to).unwrap();
            let sender = nodes[from].id().clone();
            nodes[target]
                .handle_direct(&mut outboxes[target], &sender, &bytes)
                .unwrap();
        }
    }
    assert_eq!(most, CAP, "answers are full but within the cap");
    assert_eq!(digest(a.store()).unwrap(), digest(c.store()).unwrap());
}

#[test]
fn a_peer_that_only_says_hello_is_not_chosen_for_anti_entropy() {
    let clock = ManualClock::new(START);
    let mut m = node("m", &clock);
    let mut z = node("z", &clock);
    connect(&mut m, &mut z); // "m" opens, "z" answers
    m.handle_peer_up(&mut Outbox::default(), &p("a")); // "a" < "m": it is for "a" to open
    open_exchange(&mut m, "a"); // and it does, then never answers anything
    let mut hellos_to_a = 0;
    for _ in 0..20 {
        clock.advance(m.config().anti_entropy_interval_ms);
        let mut out = Outbox::default();
        m.handle_timeout(&mut out);
        hellos_to_a += out
            .sent
            .iter()
            .filter(|(to, bytes)| {
                to == "a"
                    && matches!(
                        reconciliation::decode(bytes, 1 << 20),
                        Ok(reconciliation::ReconcileMessage::Hello { .. })
                    )
            })
            .count();
    }
    assert_eq!(hellos_to_a, 0, "anti-entropy chose the silent sybil");
}

#[test]
fn an_estimate_of_a_million_empty_strata_is_dropped_before_it_is_built() {
    let clock = ManualClock::new(START);
    let mut b = node("b", &clock);
    // An `Estimate` (variant 3, count 1) whose strata claim a million empty tables: 1 MiB.
    let mut bomb = vec![3u8, 1];
    bomb.extend(postcard::to_allocvec(&1_000_000u64).unwrap());
    bomb.extend(std::iter::repeat_n(0u8, 1_000_000));
    assert!(bomb.len() <= b.config().max_message_bytes);
    let mut out = Outbox::default();
    b.handle_direct(&mut out, &p("x"), &bomb).unwrap();
    assert_eq!(
        b.counters().dropped.unsolicited,
        1,
        "no Hello: dropped unread"
    );
    open_exchange(&mut b, "x"); // b sends a `Probe`: an `Estimate` may come
    b.handle_direct(&mut out, &p("x"), &bomb).unwrap();
    assert_eq!(
        b.counters().dropped.malformed,
        1,
        "more strata than an estimator has"
    );
    assert!(out.sent.is_empty());
}

/// Node `id` whose authors may write `author_writes` writes a minute, other budgets unlimited.
fn node_with_author_budget(id: &str, clock: &ManualClock, author_writes: u64) -> Node {
    let config = Config {
        author_rate: RateLimit {
            max_messages: 100,
            max_writes: author_writes,
            max_bytes: u64::MAX,
            window_ms: 60_000,
        },
        ..node("_", clock).config().clone()
    };
    node_on(id, clock, config, MemoryStore::new())
}

#[test]
fn a_strangers_writes_by_reconciliation_are_charged_to_its_author_budget() {
    const BUDGET: usize = 300;
    let clock = ManualClock::new(START);
    let writes = signed_writes("x", "k", 500, &clock);
    // Pushed by the stranger itself, in messages the write cap allows (before: all stored).
    let mut b = node_with_author_budget("b", &clock, BUDGET as u64);
    open_exchange(&mut b, "x");
    for chunk in writes.chunks(100) {
        b.handle_direct(&mut Outbox::default(), &p("x"), &records(chunk.to_vec()))
            .unwrap();
    }
    assert_eq!(b.counters().applied, BUDGET as u64);
    assert!(b.counters().dropped.rate_limited > 0);
    // Relayed by an honest peer that holds them, as answers: the same budget, shared with
    // the author's gossip, and the rest comes once the author's window has passed.
    let mut relay = node_holding("r", &clock, &writes);
    let mut c = node_with_author_budget("c", &clock, BUDGET as u64);
    let put = r#"{"Put":{"key":"g","value":"v","timestamp":"2025-01-04T08:30:15Z"}}"#;
    assert_eq!(gossip(&mut c, "x", put.as_bytes()), Verdict::Accept);
    connect(&mut c, &mut relay);
    assert_eq!(
        c.counters().applied,
        BUDGET as u64,
        "one by gossip, the rest reconciled"
    );
    assert!(c.poll_timeout() <= clock.monotonic_ms() + 60_000);
    clock.advance(60_000);
    let mut outboxes = vec![Outbox::default(), Outbox::default()];
    c.handle_timeout(&mut outboxes[0]);
    testkit::pump(&mut [&mut c, &mut relay], &mut outboxes).unwrap();
    assert_eq!(
        c.counters().applied,
        501,
        "asked for again once the budget allows"
    );
    // A member gets `member_rate_factor` times the budget: a catch-up among members is not
    // throttled.
    let mut m = node_with_author_budget("m", &clock, BUDGET as u64);
    m.set_membership(Membership::closed(["x", "r", "m"]));
    connect(&mut m, &mut relay);
    assert_eq!(m.counters().applied, 500);
}

#[test]
fn replaying_writes_this_node_holds_costs_their_author_nothing() {
    const BUDGET: usize = 300;
    let clock = ManualClock::new(START);
    let writes = signed_writes("x", "k", 200, &clock);
    let mut b = node_with_author_budget("b", &clock, BUDGET as u64);
    open_exchange(&mut b, "x");
    for chunk in writes.chunks(100) {
        b.handle_direct(&mut Outbox::default(), &p("x"), &records(chunk.to_vec()))
            .unwrap();
    }
    assert_eq!(b.counters().applied, 200);
    // Another peer replays the author's 200 writes again and again (before: each replay
    // spent the author's budget, so its next new writes were dropped as rate limited).
    open_exchange(&mut b, "y");
    for _ in 0..5 {
        for chunk in writes.chunks(100) {
            b.handle_direct(&mut Outbox::default(), &p("y"), &records(chunk.to_vec()))
                .unwrap();
        }
    }
    assert_eq!(b.counters().dropped.rate_limited, 0);
    assert_eq!(b.counters().ignored_older, 1_000);
    let fresh = signed_writes("x", "n", 100, &clock);
    b.handle_direct(&mut Outbox::default(), &p("x"), &records(fresh))
        .unwrap();
    assert_eq!(
        b.counters().applied,
        300,
        "the author's new writes fit its budget"
    );
}

#[test]
fn a_peer_gets_at_most_its_answer_bytes_a_minute_whatever_it_asks() {
    let clock = ManualClock::new(START);
    let big = "v".repeat(60_000);
    let entries: Vec<(String, String)> = (0..32).map(|i| (format!("k{i}"), big.clone())).collect();
    let mut b = node("b", &clock);
    let ids: Vec<u64> = b
        .put_many(&mut Outbox::default(), &entries)
        .unwrap()
        .into_iter()
        .map(|write| write.unwrap().id())
        .collect();
    open_exchange(&mut b, "x");
    // The same ids wanted again and again (before: each want answered, 1 MiB for 300 bytes).
    let want = reconciliation::encode(&reconciliation::ReconcileMessage::Records {
        writes: Vec::new(),
        want: ids,
        offer: Vec::new(),
    });
    let mut answered = 0;
    for _ in 0..100 {
        let mut out = Outbox::default();
        b.handle_direct(&mut out, &p("x"), &want).unwrap();
        answered += out.sent.iter().map(|(_, bytes)| bytes.len()).sum::<usize>();
    }
    let budget = 64 << 20;
    assert!(
        answered <= budget + b.config().max_message_bytes,
        "{answered} bytes answered"
    );
    assert!(answered >= budget, "{answered} bytes answered");
    clock.advance(60_000);
    let mut out = Outbox::default();
    b.handle_direct(&mut out, &p("x"), &want).unwrap();
    assert_eq!(out.sent.len(), 1, "a new minute");
}
