//! A hostile host's mDNS announcer, written here from RFC 6762 and libp2p's mDNS spec (not
//! with the node's code): from inside a host's namespace it multicasts responses naming
//! made-up peers, each with a `dnsaddr` TXT record, as fast as it is told.

use libp2p::PeerId;
use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// libp2p's mDNS service name.
const SERVICE: &str = "_p2p._udp.local";

/// How long the announced records claim to live, in seconds (libp2p answers with 6 minutes).
const TTL: u32 = 3_600;

/// An announcer running on its own thread until dropped.
pub struct Announcer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Announcer {
    /// Announces `per_packet` new made-up peers at `ip` every `every`, from inside network
    /// namespace `namespace` (given a multicast route there first).
    pub fn start(namespace: &str, ip: &str, per_packet: usize, every: Duration) -> Announcer {
        let route = Command::new("ip")
            .args([
                "-n",
                namespace,
                "route",
                "add",
                "224.0.0.0/4",
                "dev",
                "eth0",
            ])
            .status()
            .expect("run ip");
        assert!(route.success(), "a multicast route in {namespace}");
        let netns = File::open(format!("/run/netns/{namespace}")).expect("open the namespace");
        let (stop, ip) = (Arc::new(AtomicBool::new(false)), ip.to_string());
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            // SAFETY: setns on this thread only, with a namespace file descriptor it owns.
            let entered = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "enter the namespace");
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
            let mut sent = 0;
            while !stopped.load(Ordering::Relaxed) {
                let peers: Vec<PeerId> = (0..per_packet).map(|_| PeerId::random()).collect();
                socket
                    .send_to(&response(&ip, &peers), ("224.0.0.251", 5353))
                    .expect("multicast");
                sent += peers.len() as u64;
                thread::sleep(every);
            }
            sent
        });
        Announcer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops announcing; returns how many made-up peers were announced.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("announcer"))
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A DNS response: per peer, a PTR answer `_p2p._udp.local` → `<peer>._p2p._udp.local` and a
/// TXT additional record `dnsaddr=/ip4/<ip>/tcp/4002/p2p/<peer>` under that name.
fn response(ip: &str, peers: &[PeerId]) -> Vec<u8> {
    let count = peers.len() as u16;
    let mut out = Vec::new();
    // Id 0, flags: a response, authoritative; no questions, `count` answers and additionals.
    for field in [0, 0x8400, 0, count, 0, count] {
        out.extend_from_slice(&u16::to_be_bytes(field));
    }
    let instance = |peer: &PeerId| format!("{}.{SERVICE}", &peer.to_base58()[..32]);
    for peer in peers {
        name(&mut out, SERVICE);
        let mut target = Vec::new();
        name(&mut target, &instance(peer));
        record(&mut out, 12, &target);
    }
    for peer in peers {
        name(&mut out, &instance(peer));
        let text = format!("dnsaddr=/ip4/{ip}/tcp/4002/p2p/{peer}");
        let mut strings = vec![text.len() as u8];
        strings.extend_from_slice(text.as_bytes());
        record(&mut out, 16, &strings);
    }
    out
}

/// A domain name as length-prefixed labels.
fn name(out: &mut Vec<u8>, dotted: &str) {
    for label in dotted.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// The rest of a resource record after its name: type, class IN, [`TTL`], data.
fn record(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&TTL.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}
