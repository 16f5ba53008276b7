//! How the core's events appear in the log: the legacy app's wording, one line each.

use crate::escape::printable;
use p2p_sync_core::{DropReason, Event, Write};

/// Longest value shown in full in a log line; longer ones are cut and their size given.
const SHOWN_VALUE_CHARS: usize = 80;

/// `Put { key = value }` or `Delete { key }`, as the legacy app logs received writes (the write's
/// own `Display`), with a long value cut and its size given, and control and format
/// characters escaped: a value holding a newline stays on its line.
pub fn describe(write: &Write) -> String {
    let described = match &write.value {
        Some(value) if value.chars().count() > SHOWN_VALUE_CHARS => {
            let shown: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
            format!("Put {{ {} = {shown}… ({} bytes) }}", write.key, value.len())
        }
        _ => write.to_string(),
    };
    printable(&described).into_owned()
}

/// `count` and `word`, plural unless the count is 1: "1 byte", "2 bytes".
pub fn plural(count: u64, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// The log line for a dropped message, worded as in the legacy app. `detail` may quote the
/// message (a decoder's error does): it is escaped.
pub fn drop_line(
    from: &(impl std::fmt::Display + ?Sized),
    reason: DropReason,
    detail: &str,
) -> String {
    let detail = printable(detail);
    match reason {
        DropReason::RateLimited => format!("Rate limit exceeded for peer {from}: {detail}"),
        DropReason::TooLarge => format!("Message too large from peer {from}: {detail}"),
        DropReason::Malformed => format!("Invalid message from peer {from}: {detail}"),
        DropReason::Invalid => format!("Invalid key or value from peer {from}: {detail}"),
        DropReason::FutureTimestamp => {
            format!(
                "Timestamp too far in the future from peer {from}: {detail} \
                 (its clock or this one is off: check NTP on both)"
            )
        }
        DropReason::Forged => format!("Forged write from peer {from}: {detail}"),
        DropReason::NotAllowed => format!("Refused a write from peer {from}: {detail}"),
        DropReason::Unsolicited => {
            format!("Unsolicited reconciliation message from peer {from}: {detail}")
        }
        DropReason::KeyDistribution => {
            format!("Ignored the original app's key distribution from peer {from}: {detail}")
        }
    }
}

/// Logs one core event: applied writes (a line per message) and reconciliations at info,
/// drops at warn.
pub fn log<P: std::fmt::Display>(event: &Event<P>) {
    match event {
        Event::Applied { from, writes } => match writes.as_slice() {
            [write] => tracing::info!("Got message from {from}: {}", describe(write)),
            [first, .., last] => tracing::info!(
                "Got message from {from}: {} writes, {} … {}",
                writes.len(),
                describe(first),
                describe(last)
            ),
            [] => {}
        },
        Event::Dropped {
            from,
            reason,
            detail,
        } => tracing::warn!("{}", drop_line(from, *reason, detail)),
        Event::Reconciled {
            peer,
            applied,
            sent,
        } => tracing::info!(
            "Reconciled with peer {peer}: {} received, {sent} sent",
            plural(*applied as u64, "write")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_core::{Hlc, Version};

    fn write(value: Option<&str>) -> Write {
        Write {
            key: "hello".into(),
            value: value.map(str::to_string),
            version: Version {
                hlc: Hlc::default(),
                origin: "n0".into(),
            },
            signature: None,
        }
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(plural(0, "write"), "0 writes");
        assert_eq!(plural(2, "peer"), "2 peers");
    }

    #[test]
    fn writes_are_described_as_the_legacy_app_logs_them() {
        assert_eq!(describe(&write(Some("world"))), "Put { hello = world }");
        assert_eq!(describe(&write(None)), "Delete { hello }");
        let long = "x".repeat(1000);
        assert_eq!(
            describe(&write(Some(&long))),
            format!("Put {{ hello = {}… (1000 bytes) }}", "x".repeat(80))
        );
    }

    #[test]
    fn remote_text_cannot_forge_a_log_line() {
        let forged = "x\n2026-01-01T00:00:00Z  INFO Connection established with peer: 12D3";
        let line = describe(&write(Some(forged)));
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            "Put { hello = x\\n2026-01-01T00:00:00Z  INFO Connection established with peer: 12D3 }"
        );
        let line = drop_line("12D3", DropReason::Malformed, "bad \u{1b}[2J\u{202e}");
        assert!(line.ends_with("bad \\u{1b}[2J\\u{202e}"), "{line}");
    }

    #[test]
    fn drops_use_the_legacy_wording() {
        let line = drop_line("12D3", DropReason::RateLimited, "too many");
        assert!(line.starts_with("Rate limit exceeded for peer 12D3"));
        let line = drop_line("12D3", DropReason::TooLarge, "2000000 bytes");
        assert!(line.starts_with("Message too large from peer 12D3"));
        let line = drop_line("12D3", DropReason::Malformed, "not JSON");
        assert!(line.starts_with("Invalid message from peer 12D3"));
    }
}
