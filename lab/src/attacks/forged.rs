//! Writes with well-formed but wrong signatures, shared by the `Records` and gossip attacks:
//! each claims a fresh author (a real ed25519 PeerId) and carries a real ed25519 signature,
//! made by another key over other bytes, so the node must do a whole verification to refuse
//! it (a random 64-byte string would mostly fail the canonical-scalar check at once).

use libp2p::identity::Keypair;
use std::time::{SystemTime, UNIX_EPOCH};

/// One forged write, as the attacks encode it.
#[derive(Debug, Clone)]
pub struct Forged {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// Its timestamp (ms since the epoch: now).
    pub wall_ms: u64,
    /// The author it claims (a base58 PeerId).
    pub origin: String,
    /// A well-formed signature its origin did not make.
    pub signature: Vec<u8>,
}

/// `count` forged writes claiming `origin`, numbered from `seed`.
pub fn writes(origin: &str, count: usize, seed: u64) -> Vec<Forged> {
    let signer = Keypair::generate_ed25519();
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64);
    (0..count)
        .map(|n| {
            let key = format!("forged-{seed}-{n}");
            let signature = signer.sign(key.as_bytes()).unwrap_or_else(|_| vec![7; 64]);
            Forged {
                value: format!("stolen-{}", "v".repeat(24)),
                key,
                wall_ms,
                origin: origin.to_string(),
                signature,
            }
        })
        .collect()
}

/// A fresh author: the PeerId of a new ed25519 key.
pub fn fresh_author() -> String {
    Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .to_base58()
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-12-06T05:17:43.123Z`), as gossip
/// carries timestamps (civil date from days: Howard Hinnant's algorithm).
pub fn rfc3339(wall_ms: u64) -> String {
    let days = (wall_ms / 86_400_000) as i64;
    let ms_of_day = wall_ms % 86_400_000;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    )
}
