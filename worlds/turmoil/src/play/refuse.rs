//! What turmoil cannot play, with the reason: such a file is refused, never reinterpreted.

use p2p_sync_scenario::scenario::{Action, Connections, Expectation, Scenario};

/// Why turmoil cannot play `scenario`, or `None` when it can.
pub fn unplayable(scenario: &Scenario) -> Option<String> {
    if !scenario.plays_in("turmoil") {
        return Some(format!("its worlds are {:?}", scenario.worlds));
    }
    if scenario.attackers > 0 {
        return Some("attackers: turmoil plays no hostile host yet".into());
    }
    if let Connections::Degree(_) = scenario.connections {
        return Some("connections = degree: turmoil dials every pair only".into());
    }
    let network = &scenario.network;
    if network.loss > 0.0 || network.duplicate > 0.0 {
        return Some(LOSS.into());
    }
    scenario.steps.iter().find_map(|step| {
        step_reason(&step.action).map(|reason| format!("line {}: {reason}", step.line))
    })
}

/// turmoil's TCP has no retransmission: a lost segment breaks the stream.
const LOSS: &str = "loss/duplicate: turmoil's TCP has no retransmission (a lost segment is a \
                    broken stream, not a lost gossip message)";

/// Why turmoil cannot play one step.
fn step_reason(action: &Action) -> Option<&'static str> {
    match action {
        Action::Network(patch) if patch.loss.is_some_and(|loss| loss > 0.0) => Some(LOSS),
        Action::Network(patch) if patch.duplicate.is_some_and(|dup| dup > 0.0) => Some(LOSS),
        Action::Network(_) => Some("network steps: latency changes are not played yet"),
        Action::StoreFail { .. }
        | Action::DiskFull(_)
        | Action::DiskOk(_)
        | Action::StoreSlow { .. } => {
            Some("storage faults: the real node runs on a real SQLite file, not the faulty store")
        }
        Action::Attack(_) => Some("attacks: turmoil plays no hostile host yet"),
        Action::Expect(Expectation::SentBytesAtMost { .. }) => {
            Some("sent_bytes_at_most: the node does not count the bytes it sends")
        }
        Action::Expect(Expectation::History) => {
            Some("history: the history checker runs in the simulator only")
        }
        _ => None,
    }
}
