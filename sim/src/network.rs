//! The network model: connections, partitions and one-way cuts, crashed nodes,
//! latency, loss and duplication, and what happened to every message.
//!
//! A connection is up while both ends are alive, in the same partition group, and neither
//! refuses the other (an allow-list). Cutting it
//! bumps its epoch, so every message still in flight on it is lost when it arrives. Direct
//! messages ride the connection: reliable and ordered (FIFO per direction) while it is up.

use p2p_sync_scenario::scenario::NetworkParams;
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeSet;

/// One connection between participants `a < b`.
#[derive(Debug, Clone)]
struct Link {
    a: usize,
    b: usize,
    up: bool,
    epoch: u32,
    /// Earliest delivery time of the next direct message, per direction (a→b, b→a).
    fifo_ms: [u64; 2],
}

/// A connection that came up or went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// One end.
    pub a: usize,
    /// The other end.
    pub b: usize,
    /// Whether it is now up.
    pub up: bool,
}

/// Where a message in flight is: its connection and that connection's epoch when sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Index of the connection.
    pub link: usize,
    /// Its epoch at send time.
    pub epoch: u32,
}

/// Why the network did not deliver a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Random gossip loss.
    Random,
    /// A one-way cut swallowed it.
    OneWay,
    /// Its connection was cut (partition or crash) while it was in flight, or was down.
    Disconnected,
}

/// Messages counted by the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Gossip messages honest nodes published (their own writes).
    pub gossip_published: u64,
    /// Gossip transmissions (one per peer).
    pub gossip_sent: u64,
    /// Transmissions of honest nodes' gossip that reached an honest node, duplicates included.
    pub gossip_received: u64,
    /// Gossip handed to a node core.
    pub gossip_delivered: u64,
    /// Gossip arriving again at a node that had seen its message id (not handed to the core).
    pub gossip_duplicates: u64,
    /// Extra copies made by the duplication model.
    pub gossip_copies: u64,
    /// Direct (reconciliation) messages sent.
    pub direct_sent: u64,
    /// Direct messages handed to a node core.
    pub direct_delivered: u64,
    /// Gossip lost at random.
    pub dropped_loss: u64,
    /// Messages swallowed by a one-way cut.
    pub dropped_oneway: u64,
    /// Messages lost because their connection was down or cut in flight.
    pub dropped_disconnected: u64,
    /// Peers grafted into a mesh by heartbeats.
    pub mesh_grafts: u64,
    /// Peers pruned from a mesh by heartbeats.
    pub mesh_prunes: u64,
}

impl NetStats {
    /// Counts one message the network lost.
    pub fn count(&mut self, loss: Loss) {
        match loss {
            Loss::Random => self.dropped_loss += 1,
            Loss::OneWay => self.dropped_oneway += 1,
            Loss::Disconnected => self.dropped_disconnected += 1,
        }
    }
}

/// The network between all participants.
pub struct Network {
    /// Latency, loss and duplication in force.
    pub params: NetworkParams,
    /// What happened to messages so far.
    pub stats: NetStats,
    links: Vec<Link>,
    adjacency: Vec<Vec<(usize, usize)>>,
    group: Vec<usize>,
    alive: Vec<bool>,
    oneway: BTreeSet<(usize, usize)>,
    refused: BTreeSet<(usize, usize)>,
}

impl Network {
    /// A network of `participants` with these connections, all down until `refresh`.
    pub fn new(
        participants: usize,
        edges: impl IntoIterator<Item = (usize, usize)>,
        params: NetworkParams,
    ) -> Self {
        let mut adjacency = vec![Vec::new(); participants];
        let links: Vec<Link> = edges
            .into_iter()
            .enumerate()
            .map(|(index, (a, b))| {
                adjacency[a].push((b, index));
                adjacency[b].push((a, index));
                Link {
                    a,
                    b,
                    up: false,
                    epoch: 0,
                    fifo_ms: [0; 2],
                }
            })
            .collect();
        Network {
            params,
            stats: NetStats::default(),
            links,
            adjacency,
            group: vec![0; participants],
            alive: vec![true; participants],
            oneway: BTreeSet::new(),
            refused: BTreeSet::new(),
        }
    }

    /// The peers of `node` over connections that are up, with the route to each.
    pub fn peers(&self, node: usize) -> impl Iterator<Item = (usize, Route)> + '_ {
        self.adjacency[node].iter().filter_map(|&(peer, link)| {
            let link_state = &self.links[link];
            link_state.up.then_some((
                peer,
                Route {
                    link,
                    epoch: link_state.epoch,
                },
            ))
        })
    }

    /// How many connections `node` has, up or down.
    pub fn degree(&self, node: usize) -> usize {
        self.adjacency[node].len()
    }

    /// The route from `from` to `to` if their connection is up.
    pub fn route(&self, from: usize, to: usize) -> Option<Route> {
        self.peers(from)
            .find(|&(peer, _)| peer == to)
            .map(|(_, route)| route)
    }

    /// Replaces the grouping: participants in different groups cannot reach each other;
    /// those not named form one more group.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        self.group.fill(0);
        for (index, group) in groups.iter().enumerate() {
            for &member in group {
                self.group[member] = index + 1;
            }
        }
    }

    /// Swallows every message from each of `from` to each of `to`.
    pub fn cut_oneway(&mut self, from: &[usize], to: &[usize]) {
        for &a in from {
            for &b in to {
                self.oneway.insert((a, b));
            }
        }
    }

    /// Removes every partition and one-way cut.
    pub fn heal(&mut self) {
        self.group.fill(0);
        self.oneway.clear();
    }

    /// Whether the connection between `a` and `b` is refused by one of them (set at `refresh`).
    pub fn set_refused(&mut self, a: usize, b: usize, refused: bool) {
        let pair = (a.min(b), a.max(b));
        if refused {
            self.refused.insert(pair);
        } else {
            self.refused.remove(&pair);
        }
    }

    /// The participants `node` is connected to now.
    pub fn connected(&self, node: usize) -> BTreeSet<usize> {
        self.peers(node).map(|(peer, _)| peer).collect()
    }

    /// Marks a participant alive or crashed.
    pub fn set_alive(&mut self, node: usize, alive: bool) {
        self.alive[node] = alive;
    }

    /// Brings every connection to the state partitions and crashes call for; returns the
    /// connections that changed, in index order.
    pub fn refresh(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        for link in &mut self.links {
            let (a, b) = (link.a, link.b);
            let up = self.alive[a]
                && self.alive[b]
                && self.group[a] == self.group[b]
                && !self.refused.contains(&(a.min(b), a.max(b)));
            if up != link.up {
                link.up = up;
                if !up {
                    link.epoch += 1;
                }
                changes.push(Change { a, b, up });
            }
        }
        changes
    }

    /// A latency drawn from the range in force.
    pub fn latency(&self, rng: &mut impl Rng) -> u64 {
        let (low, high) = self.params.latency_ms;
        rng.random_range(low..=high)
    }

    /// When a direct message sent now from `from` over `route` arrives: after its latency and
    /// not before the previous one in the same direction.
    pub fn direct_arrival(
        &mut self,
        route: Route,
        from: usize,
        now: u64,
        rng: &mut impl Rng,
    ) -> u64 {
        let arrival = now + self.latency(rng);
        let link = &mut self.links[route.link];
        let direction = usize::from(from != link.a);
        let arrival = arrival.max(link.fifo_ms[direction]);
        link.fifo_ms[direction] = arrival;
        arrival
    }

    /// Whether a message from `from` to `to` sent over `route` may be delivered now.
    pub fn admit(&self, route: Route, from: usize, to: usize) -> Result<(), Loss> {
        let link = &self.links[route.link];
        if !link.up || link.epoch != route.epoch {
            return Err(Loss::Disconnected);
        }
        if !self.oneway.is_empty() && self.oneway.contains(&(from, to)) {
            return Err(Loss::OneWay);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn triangle() -> Network {
        let mut net = Network::new(3, [(0, 1), (0, 2), (1, 2)], NetworkParams::default());
        assert_eq!(net.refresh().len(), 3);
        net
    }

    #[test]
    fn a_partition_cuts_links_across_groups_and_loses_messages_in_flight() {
        let mut net = triangle();
        let route = net.route(0, 2).unwrap();
        net.partition(&[vec![0, 1]]);
        let changes = net.refresh();
        assert_eq!(
            changes,
            [
                Change {
                    a: 0,
                    b: 2,
                    up: false
                },
                Change {
                    a: 1,
                    b: 2,
                    up: false
                }
            ]
        );
        assert!(net.route(0, 1).is_some());
        assert!(net.route(0, 2).is_none());
        assert_eq!(net.admit(route, 0, 2), Err(Loss::Disconnected));
        net.heal();
        assert_eq!(net.refresh().len(), 2);
        assert_eq!(
            net.admit(route, 0, 2),
            Err(Loss::Disconnected),
            "a message from before the cut stays lost after the heal"
        );
        assert_eq!(net.admit(net.route(0, 2).unwrap(), 0, 2), Ok(()));
    }

    #[test]
    fn a_oneway_cut_keeps_the_connection_and_swallows_one_direction() {
        let mut net = triangle();
        net.cut_oneway(&[0], &[1]);
        assert!(net.refresh().is_empty());
        let route = net.route(0, 1).unwrap();
        assert_eq!(net.admit(route, 0, 1), Err(Loss::OneWay));
        assert_eq!(net.admit(route, 1, 0), Ok(()));
    }

    #[test]
    fn a_crash_takes_down_every_link_of_the_node() {
        let mut net = triangle();
        net.set_alive(1, false);
        assert_eq!(net.refresh().len(), 2);
        assert_eq!(net.peers(1).count(), 0);
        net.set_alive(1, true);
        assert_eq!(net.refresh().len(), 2);
    }

    #[test]
    fn a_refused_connection_goes_down_and_comes_back_when_admitted() {
        let mut net = triangle();
        net.set_refused(2, 0, true);
        assert_eq!(
            net.refresh(),
            [Change {
                a: 0,
                b: 2,
                up: false
            }]
        );
        assert_eq!(net.connected(0), BTreeSet::from([1]));
        net.set_refused(0, 2, false);
        assert_eq!(
            net.refresh(),
            [Change {
                a: 0,
                b: 2,
                up: true
            }]
        );
    }

    #[test]
    fn direct_messages_arrive_in_order() {
        let mut net = triangle();
        net.params.latency_ms = (1, 100);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let route = net.route(0, 1).unwrap();
        let arrivals: Vec<u64> = (0..50)
            .map(|now| net.direct_arrival(route, 0, now, &mut rng))
            .collect();
        assert!(arrivals.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
