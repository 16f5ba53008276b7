//! `Summary` arithmetic when it is told of a replacement it never saw the insert of.

use super::Summary;
use crate::testkit;
use crate::write::Write;

fn write(value: Option<&str>, wall_ms: u64) -> Write {
    testkit::write("k", value, wall_ms, "n")
}

#[test]
fn counts_saturate_instead_of_wrapping() {
    // Another process stored the live `k`; this summary never counted it. A delete replacing
    // it used to take `live` below zero: `status` showed `Keys: 18446744073709551615`.
    let mut summary = Summary::default();
    summary.replace(Some(&write(Some("v"), 1)), &write(None, 2));
    assert_eq!((summary.count, summary.live), (0, 0));
    summary.count = u64::MAX;
    summary.replace(None, &write(Some("v"), 3));
    assert_eq!((summary.count, summary.live), (u64::MAX, 1));
}
