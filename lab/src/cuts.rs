//! Partitions and one-way cuts as nftables rules on the switch's bridge: frames from one
//! group's ports to another's are dropped (multicast too, so mDNS does not cross a partition
//! either). The whole rule set is replaced at once whenever the cuts change.

use crate::netns::Lan;

/// The nftables table the rules live in (inside the switch's namespace only).
const TABLE: &str = "p2psync_lab";

/// The current partition and one-way cuts between hosts.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cuts {
    /// Groups that cannot reach each other (hosts not named form one more group).
    groups: Vec<Vec<usize>>,
    /// `(from, to)`: frames from every `from` host to every `to` host vanish.
    oneway: Vec<(Vec<usize>, Vec<usize>)>,
}

impl Cuts {
    /// Replaces the partition with `groups` (one-way cuts stay).
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        self.groups = groups.to_vec();
    }

    /// Adds a one-way cut from `from` to `to`.
    pub fn oneway(&mut self, from: &[usize], to: &[usize]) {
        self.oneway.push((from.to_vec(), to.to_vec()));
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        *self = Cuts::default();
    }

    /// The nftables script that replaces the table with these cuts among `hosts` hosts.
    pub fn script(&self, hosts: usize) -> String {
        let mut groups = self.groups.clone();
        let rest: Vec<usize> = (0..hosts)
            .filter(|host| !groups.iter().flatten().any(|named| named == host))
            .collect();
        if !groups.is_empty() && !rest.is_empty() {
            groups.push(rest);
        }
        let mut pairs: Vec<(&[usize], &[usize])> = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    pairs.push((a, b));
                }
            }
        }
        pairs.extend(
            self.oneway
                .iter()
                .map(|(a, b)| (a.as_slice(), b.as_slice())),
        );
        let mut script = format!(
            "table bridge {TABLE}\ndelete table bridge {TABLE}\ntable bridge {TABLE} {{\n  \
             chain forward {{\n    type filter hook forward priority 0; policy accept;\n"
        );
        for (from, to) in pairs.iter().filter(|(a, b)| !a.is_empty() && !b.is_empty()) {
            script += &format!("    iifname {} oifname {} drop\n", ports(from), ports(to));
        }
        script + "  }\n}\n"
    }

    /// Installs these cuts on `lan`'s switch (needs `nft`).
    pub fn apply(&self, lan: &Lan, hosts: usize) -> Result<(), String> {
        lan.in_switch("nft", &["-f", "-"], &self.script(hosts))
            .map(drop)
    }
}

/// `{ "port0", "port3" }`: the switch ports of `hosts`.
fn ports(hosts: &[usize]) -> String {
    let names: Vec<String> = hosts
        .iter()
        .map(|&h| format!("\"{}\"", Lan::port(h)))
        .collect();
    format!("{{ {} }}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(cuts: &Cuts, hosts: usize) -> Vec<String> {
        cuts.script(hosts)
            .lines()
            .filter(|line| line.ends_with("drop"))
            .map(|line| line.trim().to_string())
            .collect()
    }

    #[test]
    fn unnamed_hosts_form_one_more_group() {
        let mut cuts = Cuts::default();
        cuts.partition(&[vec![0]]);
        assert_eq!(
            rules(&cuts, 3),
            [
                "iifname { \"port0\" } oifname { \"port1\", \"port2\" } drop",
                "iifname { \"port1\", \"port2\" } oifname { \"port0\" } drop",
            ]
        );
    }

    #[test]
    fn oneway_cuts_one_direction_and_heal_clears_all() {
        let mut cuts = Cuts::default();
        cuts.oneway(&[0], &[1]);
        assert_eq!(
            rules(&cuts, 3),
            ["iifname { \"port0\" } oifname { \"port1\" } drop"]
        );
        cuts.heal();
        assert!(rules(&cuts, 3).is_empty());
        assert!(cuts.script(3).contains("delete table bridge"));
    }
}
