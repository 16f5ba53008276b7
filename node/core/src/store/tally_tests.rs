//! `Tally`: the difference with a received table, computed in that table itself.

use super::{Tally, BANK_FROM};
use crate::iblt::Iblt;
use crate::testkit;

/// A tally of `keys` writes and, for the peer, a table of `cells` cells holding all of them
/// but the first `missing` and `extra` writes the tally lacks.
fn tally_and_theirs(keys: usize, missing: usize, extra: usize, cells: usize) -> (Tally, Iblt) {
    let write = |i: usize| testkit::write(&format!("k{i}"), Some("v"), 1 + i as u64, "n");
    let mut tally = Tally::default();
    let mut theirs = Iblt::new(cells);
    for i in 0..keys {
        tally.replace(None, &write(i));
        if i >= missing {
            theirs.insert(write(i).id());
        }
    }
    (keys..keys + extra).for_each(|i| theirs.insert(write(i).id()));
    (tally, theirs)
}

#[test]
fn the_difference_with_a_received_table_is_the_one_of_two_tables() {
    for keys in [100, BANK_FROM + 100] {
        for cells in [48, 3 << 10] {
            let (tally, theirs) = tally_and_theirs(keys, 5, 7, cells);
            let expected = tally.table(cells).unwrap().difference(&theirs);
            let difference = tally.difference(theirs).expect("peels");
            assert_eq!(
                Some(&difference),
                expected.as_ref(),
                "{keys} keys, {cells} cells"
            );
            assert_eq!(
                (difference.only_left.len(), difference.only_right.len()),
                (5, 7)
            );
        }
    }
}

#[test]
fn a_table_larger_than_the_tallys_is_not_subtracted() {
    let (tally, theirs) = tally_and_theirs(10, 0, 0, crate::reconciliation::MAX_SKETCH_CELLS * 2);
    assert_eq!(tally.difference(theirs), None);
}
