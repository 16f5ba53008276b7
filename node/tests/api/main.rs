//! The HTTP API of real `p2p-sync` processes on 127.0.0.1 (`--api 127.0.0.1:0`, the address
//! read from the banner's `API: http://…` line): writes through one node's API seen by a watch
//! on another's, paging while writes arrive, refused input, a watch client that never reads,
//! Prometheus metrics, and the token a non-loopback address needs.

#[path = "../common/driver.rs"]
#[allow(dead_code)] // not every helper is used here
mod driver;
mod http;

use driver::{free_port, start_command, Node};
use http::{encode, get, request, SseEvent};
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const LOOPBACK: &[&str] = &["--listen-ip", "127.0.0.1", "--no-mdns"];

/// A node on 127.0.0.1 with its API on a free loopback port, dialling `dial`.
fn start(name: &str, data_dir: &Path, dial: &[String], options: &[&str]) -> Node {
    let mut command = start_command(&[]);
    command
        .args(LOOPBACK)
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(data_dir);
    if !options.contains(&"--api") {
        command.args(["--api", "127.0.0.1:0"]);
    }
    command.args(options);
    for address in dial {
        command.args(["--dial", address]);
    }
    let node = Node::start(name, command);
    assert!(node.api.is_some(), "node {name} printed no API line");
    node
}

fn api(node: &Node) -> String {
    node.api.clone().expect("an API address")
}

fn tcp_address(node: &Node) -> String {
    node.listening
        .iter()
        .find(|address| address.contains("/tcp/"))
        .expect("a TCP address")
        .clone()
}

/// The next event within `within`, or the test fails naming `what`.
fn next_event(events: &Receiver<SseEvent>, within: Duration, what: &str) -> SseEvent {
    events
        .recv_timeout(within)
        .unwrap_or_else(|error| panic!("no watch event for {what} within {within:?}: {error}"))
}

fn put(address: &str, key: &str, value: &str) -> http::Response {
    request(
        address,
        "PUT",
        &format!("/v1/kv/{}", encode(key)),
        &[],
        value.as_bytes(),
    )
}

/// Imports `lines` (NDJSON) and checks it was accepted.
fn import(address: &str, lines: &str) -> serde_json::Value {
    let answer = request(
        address,
        "POST",
        "/v1/import",
        &["Content-Type: application/x-ndjson"],
        lines.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// The value of a sample (`name` with its labels, as written) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_put_and_a_delete_through_one_api_reach_a_watch_on_another_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), &[], &[]);
    let mut b = start("B", &dir.path().join("b"), &[tcp_address(&a)], &[]);
    b.wait_for_log(&format!("Connection established with peer: {}", a.peer_id));
    let subscribed = format!("  {} (subscribed to p2p-sync", b.peer_id);
    driver::poll(|| a.status().iter().any(|line| line.starts_with(&subscribed)))
        .unwrap_or_else(|| a.fail("never saw B subscribe"));
    let (api_a, api_b) = (api(&a), api(&b));
    let events = http::watch(&api_b, "/v1/watch?prefix=w%2F", &[]);
    std::thread::sleep(Duration::from_millis(200)); // the watch subscribes

    let sent = Instant::now();
    let answer = put(&api_a, "w/hello", "big world");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let event = next_event(&events, Duration::from_secs(1), "the put");
    let put_seen = sent.elapsed();
    let change: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(change["key"], "w/hello");
    assert_eq!(change["value"], "big world");
    assert_eq!(change["deleted"], false);
    assert_eq!(change["version"]["origin"], a.peer_id.as_str());
    assert!(!event.id.is_empty(), "{event:?}");

    // B's API and REPL both have it, with its version.
    let got = get(&api_b, "/v1/kv/w%2Fhello");
    assert_eq!((got.status, got.text().as_str()), (200, "big world"));
    assert_eq!(got.header("x-version-origin"), Some(a.peer_id.as_str()));
    assert!(got
        .header("x-version-time")
        .is_some_and(|time| time.parse::<u64>().is_ok()));
    let json = request(
        &api_b,
        "GET",
        "/v1/kv/w%2Fhello",
        &["Accept: application/json"],
        b"",
    )
    .json();
    assert_eq!(json["value"], "big world");
    assert_eq!(json["version"]["origin"], a.peer_id.as_str());
    assert_eq!(b.get("w/hello").as_deref(), Some("big world"));

    let sent = Instant::now();
    let answer = request(&api_a, "DELETE", "/v1/kv/w%2Fhello", &[], b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let event = next_event(&events, Duration::from_secs(1), "the delete");
    let delete_seen = sent.elapsed();
    let change: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(
        (change["key"].as_str(), change["deleted"].as_bool()),
        (Some("w/hello"), Some(true))
    );
    assert!(change["value"].is_null());
    assert_eq!(get(&api_b, "/v1/kv/w%2Fhello").status, 404);

    // A write made in B's REPL and one outside the prefix: only the first is watched.
    b.add("other", "x");
    b.add("w/repl", "typed");
    let event = next_event(&events, Duration::from_secs(1), "the REPL's write");
    assert!(event.data.contains("\"w/repl\""), "{event:?}");

    // Status names the peer; the applied counter moved on B.
    let status = get(&api_b, "/v1/status").json();
    assert_eq!(status["peer_id"], b.peer_id.as_str());
    assert_eq!(status["peers"][0]["peer"], a.peer_id.as_str());
    assert!(
        status["counters"]["applied"].as_u64() >= Some(2),
        "{status}"
    );
    assert!(status["drops"]
        .as_object()
        .is_some_and(|drops| drops.contains_key("rate_limited")));
    let metrics = get(&api_b, "/metrics").text();
    assert!(
        sample(&metrics, "p2p_sync_writes_applied_total") >= Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "p2p_sync_connected_peers"),
        Some(1.0),
        "{metrics}"
    );

    // A watch that resumes from the put's id gets what followed, in order.
    let resumed = http::watch(&api_b, "/v1/watch", &[&format!("Last-Event-ID: {}", 0)]);
    let first = next_event(&resumed, Duration::from_secs(5), "the resumed watch");
    assert!(first.data.contains("\"w/hello\""), "{first:?}");
    eprintln!("API watch: a put on A seen on B after {put_seen:?}, a delete after {delete_seen:?}");
}

#[test]
fn list_pages_through_ten_thousand_keys_without_gaps_or_repeats_while_writes_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let node = start("A", &dir.path().join("a"), &[], &[]);
    let address = api(&node);
    let lines: String = (0..10_000)
        .map(|i| format!("{{\"key\":\"p/{i:05}\",\"value\":\"v{i}\"}}\n"))
        .collect();
    let started = Instant::now();
    let answer = import(&address, &lines);
    let imported = started.elapsed();
    assert_eq!(answer["put"], 10_000, "{answer}");

    // Another client keeps writing: new keys between the listed ones, and overwrites.
    let writer_address = address.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = std::sync::Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        let mut written = 0;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            let key = format!("p/{:05}", (written * 37) % 10_000);
            assert_eq!(put(&writer_address, &key, "changed").status, 200);
            assert_eq!(
                put(&writer_address, &format!("{key}-new{written}"), "new").status,
                200
            );
            written += 1;
        }
        written
    });
    let mut seen = Vec::new();
    let mut after = String::new();
    let started = Instant::now();
    loop {
        let page = get(
            &address,
            &format!("/v1/kv?prefix=p%2F&limit=500&after={}", encode(&after)),
        )
        .json();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["key"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    let paged = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "keys out of order or repeated"
    );
    let original: Vec<String> = seen.iter().filter(|key| key.len() == 7).cloned().collect();
    let expected: Vec<String> = (0..10_000).map(|i| format!("p/{i:05}")).collect();
    assert_eq!(original, expected, "a listed key went missing");
    eprintln!(
        "API list: 10,000 keys imported in {imported:?}; paged through {} keys in {paged:?} \
         while {written} overwrites and {written} new keys arrived",
        seen.len()
    );
}

#[test]
fn bad_input_is_refused_with_its_status_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let node = start("A", &dir.path().join("a"), &[], &[]);
    let address = api(&node);
    let error = |answer: &http::Response| {
        answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let long_key = "k".repeat(300);
    let answer = put(&address, &long_key, "v");
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(error(&answer).contains("key"), "{}", answer.text());
    assert_eq!(get(&address, &format!("/v1/kv/{long_key}")).status, 400);
    assert_eq!(
        get(&address, "/v1/kv/a%0Ab").status,
        400,
        "a control character in a key"
    );

    let missing = get(&address, "/v1/kv/nothing-here");
    assert_eq!(missing.status, 404);
    assert!(error(&missing).contains("not found"));

    // 2 MiB: refused from its Content-Length, and (sent chunked, with no length) as soon as
    // more than the limit arrived.
    let big = vec![b'v'; 2 * 1024 * 1024];
    let answer = put(&address, "big", std::str::from_utf8(&big).unwrap());
    assert_eq!(answer.status, 413, "{}", answer.text());
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(&big);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer = request(
        &address,
        "PUT",
        "/v1/kv/big",
        &["Transfer-Encoding: chunked"],
        &chunked,
    );
    assert_eq!(answer.status, 413, "{}", answer.text());
    let over = vec![b'v'; 64 * 1024 + 1];
    assert_eq!(
        request(&address, "PUT", "/v1/kv/big", &[], &over).status,
        413
    );
    assert_eq!(get(&address, "/v1/kv/big").status, 404);

    let answer = request(&address, "PUT", "/v1/kv/binary", &[], &[0x66, 0xff, 0xfe]);
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(error(&answer).contains("UTF-8"), "{}", answer.text());

    let lines =
        "{\"key\":\"i1\",\"value\":\"one\"}\n{\"key\":\"i2\",\"value\":\"two\"}\n{\"key\": i3}\n";
    let answer = request(&address, "POST", "/v1/import", &[], lines.as_bytes());
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(error(&answer).starts_with("line 3:"), "{}", answer.text());
    assert_eq!(
        get(&address, "/v1/kv/i1").status,
        404,
        "nothing of a refused import is kept"
    );
    let answer = request(
        &address,
        "POST",
        "/v1/import",
        &[],
        format!("{{\"key\":\"{long_key}\",\"value\":\"x\"}}").as_bytes(),
    );
    assert_eq!(answer.status, 400);
    assert!(
        error(&answer).starts_with("line 1: invalid key"),
        "{}",
        answer.text()
    );
    let answer = import(&address, "{\"key\":\"i1\",\"value\":\"one\"}\n\n{\"key\":\"i1\",\"delete\":true}\n{\"key\":\"i2\",\"value\":\"two\"}");
    assert_eq!(
        (answer["put"].as_u64(), answer["deleted"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(get(&address, "/v1/kv/i1").status, 404);
    assert_eq!(get(&address, "/v1/kv/i2").text(), "two");

    // Without a token, a web page elsewhere cannot write through the user's browser.
    let answer = request(
        &address,
        "PUT",
        "/v1/kv/csrf",
        &["Origin: https://evil.example", "Content-Type: text/plain"],
        b"x",
    );
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(get(&address, "/v1/kv/csrf").status, 404);

    assert_eq!(get(&address, "/v1/nothing").status, 404);
    assert_eq!(get(&address, "/v1/kv?limit=0").status, 400);
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_watch_client_that_never_reads_leaves_memory_bounded() {
    const WRITES: usize = 100_000;
    const PER_IMPORT: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let node = start("A", &dir.path().join("a"), &[], &[]);
    let address = api(&node);
    let value = "x".repeat(1000);
    // Warm up (the first import's buffers), then measure.
    import(
        &address,
        &format!("{{\"key\":\"warm\",\"value\":\"{value}\"}}"),
    );
    let mut stalled = http::open_and_never_read(&address, "/v1/watch");
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kib(node.pid());
    let started = Instant::now();
    let mut peak = before;
    for batch in 0..WRITES / PER_IMPORT {
        let lines: String = (0..PER_IMPORT)
            .map(|i| format!("{{\"key\":\"m/{batch}/{i}\",\"value\":\"{value}\"}}\n"))
            .collect();
        assert_eq!(import(&address, &lines)["put"], PER_IMPORT);
        peak = peak.max(rss_kib(node.pid()));
    }
    let took = started.elapsed();
    let grown_mib = (peak.saturating_sub(before)) / 1024;
    eprintln!(
        "API watch memory: {WRITES} writes of 1 KB in {took:?} with a watch client that never \
         read: RSS {} MiB before, peak {} MiB (+{grown_mib} MiB)",
        before / 1024,
        peak / 1024
    );
    // 100 MB of values went through; a buffer that kept them would show.
    // Keeping the 100 MB of changes for the stalled client would grow it by more than that.
    assert!(grown_mib < 80, "RSS grew by {grown_mib} MiB");
    assert!(
        http::read_until_contains(&mut stalled, "lagged: resync"),
        "the stalled client was not told it lagged"
    );
    // The node still answers.
    assert_eq!(get(&address, "/v1/kv/m%2F0%2F0").text(), value);
}

/// Checks Prometheus text exposition: every sample line is `name{labels} value`, every sample
/// belongs to a family with a `# TYPE`. Returns the samples.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            match words.next() {
                Some("TYPE") => {
                    let name = words.next().expect("a family name");
                    let kind = words.next().expect("a type");
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "unknown",
                            "stateset",
                            "gaugehistogram"
                        ]
                        .contains(&kind),
                        "{line}"
                    );
                    typed.push(name.to_string());
                }
                Some("HELP" | "UNIT") | None => {}
                Some("EOF") => {}
                Some(other) => panic!("unknown comment {other}: {line}"),
            }
            continue;
        }
        if line == "# EOF" || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels: {line}"));
                for label in labels.split(',') {
                    let (key, quoted) = label
                        .split_once('=')
                        .unwrap_or_else(|| panic!("label: {line}"));
                    assert!(
                        key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    assert!(quoted.starts_with('"') && quoted.ends_with('"'), "{line}");
                }
                name
            }
            None => series,
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        assert!(
            typed.iter().any(|family| name == family
                || name
                    .strip_prefix(family.as_str())
                    .is_some_and(|rest| rest.starts_with('_'))),
            "sample without a # TYPE: {line}"
        );
        samples.push((series.to_string(), value));
    }
    samples
}

#[test]
fn metrics_parse_as_prometheus_text_and_counters_move() {
    let dir = tempfile::tempdir().unwrap();
    let node = start("A", &dir.path().join("a"), &[], &[]);
    let address = api(&node);
    let scrape = || {
        let answer = get(&address, "/metrics");
        assert_eq!(answer.status, 200);
        assert!(answer
            .header("content-type")
            .is_some_and(|kind| kind.contains("text")));
        parse_prometheus(&answer.text())
    };
    let value = |samples: &[(String, f64)], series: &str| {
        samples
            .iter()
            .find(|(name, _)| name == series)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("no {series} in {samples:?}"))
    };
    let before = scrape();
    assert_eq!(value(&before, "p2p_sync_writes_made_total"), 0.0);
    assert_eq!(
        value(&before, "p2p_sync_dropped_total{reason=\"rate_limited\"}"),
        0.0
    );
    for name in [
        "p2p_sync_mesh_peers",
        "p2p_sync_pending_gossip",
        "p2p_sync_held_acks",
        "p2p_sync_direct_backlog_bytes",
        "p2p_sync_keys",
        "p2p_sync_reconcile_sent_bytes_total",
        "p2p_sync_gossip_received_total",
    ] {
        value(&before, name);
    }
    assert_eq!(put(&address, "k", "v").status, 200);
    assert_eq!(
        request(&address, "DELETE", "/v1/kv/k", &[], b"").status,
        200
    );
    let after = scrape();
    assert_eq!(value(&after, "p2p_sync_writes_made_total"), 2.0);
    assert_eq!(value(&after, "p2p_sync_stored_keys"), 1.0);
    assert_eq!(value(&after, "p2p_sync_keys"), 0.0);
    // libp2p's own metrics sit beside the node's: a peer connecting is counted.
    let connections = |samples: &[(String, f64)]| -> f64 {
        let series = "libp2p_swarm_connections_established_total{";
        let found = samples.iter().filter(|(name, _)| name.starts_with(series));
        found.map(|(_, value)| value).sum()
    };
    assert_eq!(connections(&after), 0.0);
    let b = start("B", &dir.path().join("b"), &[tcp_address(&node)], &[]);
    b.wait_for_log(&format!(
        "Connection established with peer: {}",
        node.peer_id
    ));
    let connected = driver::poll(|| connections(&scrape()) >= 1.0);
    assert!(connected.is_some(), "{:?}", scrape());
}

#[test]
fn a_non_loopback_api_needs_a_token_and_every_request_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = start_command(&[])
        .args(LOOPBACK)
        .args([
            "--port",
            "0",
            "--no-input",
            "--api",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--api-token-file"), "{stderr}");
    assert!(
        !dir.path().join("refused").exists(),
        "a refused start left a data directory"
    );

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let node = start(
        "A",
        &dir.path().join("a"),
        &[],
        &[
            "--api",
            "0.0.0.0:0",
            "--api-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let port = api(&node).rsplit_once(':').unwrap().1.to_string();
    let address = format!("127.0.0.1:{port}");
    for headers in [
        &[][..],
        &["Authorization: Bearer wrong"][..],
        &["Authorization: Bearer s3cret-token-and-more"][..],
        &["Authorization: s3cret-token"][..],
    ] {
        let answer = request(&address, "GET", "/v1/status", headers, b"");
        assert_eq!(answer.status, 401, "{headers:?}");
        assert!(answer.json()["error"].as_str().is_some());
        assert_eq!(
            request(&address, "PUT", "/v1/kv/k", headers, b"v").status,
            401
        );
    }
    let bearer = ["Authorization: Bearer s3cret-token"];
    assert_eq!(
        request(&address, "PUT", "/v1/kv/k", &bearer, b"v").status,
        200
    );
    let answer = request(&address, "GET", "/v1/kv/k", &bearer, b"");
    assert_eq!((answer.status, answer.text().as_str()), (200, "v"));
    assert_eq!(
        request(&address, "GET", "/metrics", &bearer, b"").status,
        200
    );
}

/// The headless browser for the status page's test, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

#[test]
fn the_status_page_shows_a_write_made_on_another_node_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (bash ci/install-deps.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = start("A", &dir.path().join("a"), &[], &[]);
    let mut b = start("B", &dir.path().join("b"), &[tcp_address(&a)], &[]);
    b.wait_for_log(&format!("Connection established with peer: {}", a.peer_id));
    let address = api(&a);
    b.add("page-key", "written on B");
    driver::poll(|| get(&address, "/v1/kv/page-key").status == 200)
        .unwrap_or_else(|| a.fail("B's write never arrived"));
    let started = Instant::now();
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("browser").display()
        ))
        .args(["--dump-dom", &format!("http://{address}/")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut dom);
        dom
    });
    // The page keeps its watch open, so the browser's virtual time stands still until the
    // stream ends: once the page watches (and has had a moment to draw), A stops.
    let watching = driver::poll(|| {
        sample(&get(&address, "/metrics").text(), "p2p_sync_watch_clients") >= Some(1.0)
    });
    std::thread::sleep(Duration::from_secs(1));
    let loaded = started.elapsed();
    let peer_a = a.peer_id.clone();
    let status = a.quit();
    assert!(status.success());
    let exited = driver::poll(|| child.try_wait().unwrap().is_some());
    if watching.is_none() || exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "chromium did not open the page's watch ({watching:?}) or did not exit ({exited:?})"
        );
    }
    let dom = reader.join().unwrap();
    eprintln!(
        "status page: {browser} watched after {loaded:?}, rendered in {:?}",
        started.elapsed()
    );
    assert!(
        dom.contains("<td class=\"k\">page-key</td><td>written on B</td>"),
        "{dom}"
    );
    assert!(
        dom.contains(&b.peer_id[b.peer_id.len() - 6..]),
        "the origin is shown: {dom}"
    );
    assert!(
        dom.contains(&format!("Peer {peer_a}")),
        "status is shown: {dom}"
    );
}
