//! Invertible Bloom lookup tables over 64-bit write ids, and a strata estimator of set
//! differences (Eppstein, Goodrich, Uyeda, Varghese: "What's the Difference?", SIGCOMM 2011).
//!
//! Two nodes each fill a table of the same size with the ids of their writes; subtracting one
//! from the other cancels every id both hold, and peeling the rest lists the ids only one side
//! holds. The table needs about 1.5 cells per differing id, whatever the size of the sets.
//!
//! Each third of a table has a power-of-two number of cells and an id goes to cell
//! `hash mod third` of each third, so a large table folds into any smaller one: adding up the
//! cells that agree modulo the smaller third gives exactly the table those ids would fill. A
//! store keeps one large table up to date and answers a table of any size without a scan.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Number of cells each id is added to (one in each third of the table).
const HASHES: usize = 3;
/// Bytes per cell on the wire: count (i32), id sum (u64), check sum (u32).
pub const CELL_BYTES: usize = 16;

/// A cell, kept in its wire form (little-endian count, id sum, check sum), so a table is sent
/// and received without a copy in another layout.
type Cell = [u8; CELL_BYTES];

fn check(id: u64) -> u32 {
    xxh3_64_with_seed(&id.to_le_bytes(), 0x5eed) as u32
}

/// What a cell holds and how it changes.
trait CellFields {
    fn fields(&self) -> (i32, u64, u32);
    fn set(&mut self, count: i32, id_sum: u64, check_sum: u32);

    fn toggle(&mut self, id: u64, sign: i32) {
        let (count, id_sum, check_sum) = self.fields();
        self.set(count.wrapping_add(sign), id_sum ^ id, check_sum ^ check(id));
    }

    /// Adds `other` with its count multiplied by `sign` (1 adds, -1 subtracts).
    fn add(&mut self, other: &Cell, sign: i32) {
        let (count, id_sum, check_sum) = self.fields();
        let (other_count, other_id_sum, other_check_sum) = other.fields();
        let count = count.wrapping_add(other_count.wrapping_mul(sign));
        self.set(count, id_sum ^ other_id_sum, check_sum ^ other_check_sum);
    }

    fn pure_id(&self) -> Option<(u64, i32)> {
        let (count, id_sum, check_sum) = self.fields();
        ((count == 1 || count == -1) && check(id_sum) == check_sum).then_some((id_sum, count))
    }

    fn is_clear(&self) -> bool;
}

impl CellFields for Cell {
    fn fields(&self) -> (i32, u64, u32) {
        let (count, rest) = self.split_at(4);
        let (id_sum, check_sum) = rest.split_at(8);
        (
            i32::from_le_bytes(count.try_into().expect("4 bytes")),
            u64::from_le_bytes(id_sum.try_into().expect("8 bytes")),
            u32::from_le_bytes(check_sum.try_into().expect("4 bytes")),
        )
    }

    fn set(&mut self, count: i32, id_sum: u64, check_sum: u32) {
        self[..4].copy_from_slice(&count.to_le_bytes());
        self[4..12].copy_from_slice(&id_sum.to_le_bytes());
        self[12..].copy_from_slice(&check_sum.to_le_bytes());
    }

    fn is_clear(&self) -> bool {
        *self == [0; CELL_BYTES]
    }
}

/// An invertible Bloom lookup table. Its wire form is packed cells (`CELL_BYTES` each).
///
/// Its cells are shared between clones until one changes them: the store's largest table
/// goes into an answer of that size without a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iblt {
    cells: Arc<Vec<Cell>>,
}

/// The result of peeling a subtracted table: ids only in the left table, ids only in the right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    /// Ids in the table that was subtracted from (`self`), not in the other.
    pub only_left: Vec<u64>,
    /// Ids in the other table, not in `self`.
    pub only_right: Vec<u64>,
}

impl Iblt {
    /// An empty table of at least `cells` cells (see [`Iblt::rounded`]).
    pub fn new(cells: usize) -> Self {
        Iblt {
            cells: Arc::new(vec![[0; CELL_BYTES]; Self::rounded(cells)]),
        }
    }

    /// The cells a table asked to have `cells` gets: three times a power of two, at least 3
    /// (and at most 3 × 2^40, far past any table a message carries).
    pub fn rounded(cells: usize) -> usize {
        cells.div_ceil(HASHES).clamp(1, 1 << 40).next_power_of_two() * HASHES
    }

    /// Whether `cells` is a size [`Iblt::rounded`] gives: any other is no honest table's.
    pub fn is_shape(cells: usize) -> bool {
        cells > 0 && Self::rounded(cells) == cells
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the table has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The table's wire form: its cells, packed.
    pub fn as_bytes(&self) -> &[u8] {
        self.cells.as_flattened()
    }

    /// The table of `cells` cells (rounded) holding the same ids, folded from this one in one
    /// pass over its cells; `None` if it would be larger than this one.
    pub fn fold(&self, cells: usize) -> Option<Iblt> {
        if Self::rounded(cells) == self.cells.len() {
            return Some(self.clone());
        }
        let mut folded = Iblt::new(cells);
        folded.add_folded(self).then_some(folded)
    }

    /// Adds the ids of `larger` (a table at least this one's size) to this table, folding it
    /// in one pass over its cells; `false`, and nothing added, if it is smaller.
    pub fn add_folded(&mut self, larger: &Iblt) -> bool {
        if larger.cells.len() < self.cells.len() || self.cells.is_empty() {
            return false;
        }
        let (from_third, third) = (larger.cells.len() / HASHES, self.cells.len() / HASHES);
        let cells = Arc::make_mut(&mut self.cells);
        for (index, cell) in larger.cells.iter().enumerate() {
            let (which, offset) = (index / from_third, index % from_third);
            cells[which * third + offset % third].add(cell, 1);
        }
        true
    }

    /// The table that cancels this one: added to it, it leaves an empty table. A received
    /// table, negated and given this node's ids, is their difference without a second table.
    pub fn negated(mut self) -> Iblt {
        for cell in Arc::make_mut(&mut self.cells) {
            let (count, id_sum, check_sum) = cell.fields();
            cell.set(count.wrapping_neg(), id_sum, check_sum);
        }
        self
    }

    /// Adds one id.
    pub fn insert(&mut self, id: u64) {
        self.toggle(id, 1);
    }

    /// Takes out one id that was added (tables are kept up to date as writes replace others).
    pub fn remove(&mut self, id: u64) {
        self.toggle(id, -1);
    }

    fn toggle(&mut self, id: u64, sign: i32) {
        let cells = Arc::make_mut(&mut self.cells);
        for position in positions(cells.len(), id) {
            cells[position].toggle(id, sign);
        }
    }

    /// Subtracts `other` (same size) from `self` and peels the result. `None` when the
    /// difference is too large for the table to decode, or the sizes differ.
    pub fn difference(mut self, other: &Iblt) -> Option<Difference> {
        if self.cells.len() != other.cells.len() || self.cells.is_empty() {
            return None;
        }
        for (cell, theirs) in Arc::make_mut(&mut self.cells)
            .iter_mut()
            .zip(other.cells.iter())
        {
            cell.add(theirs, -1);
        }
        self.peel()
    }

    /// Lists the ids of a subtracted table: positive counts are the left side's, negative the
    /// right's. `None` when it does not peel to empty (too large a difference, or a table no
    /// honest subtraction gives).
    pub fn peel(mut self) -> Option<Difference> {
        if self.cells.is_empty() {
            return None;
        }
        let cells = Arc::make_mut(&mut self.cells);
        let mut difference = Difference::default();
        let mut decoded = HashSet::new();
        let mut pure: Vec<usize> = (0..cells.len())
            .filter(|&i| cells[i].pure_id().is_some())
            .collect();
        while let Some(index) = pure.pop() {
            let Some((id, sign)) = cells[index].pure_id() else {
                continue;
            };
            // A table from a hostile peer can hold "pure" cells that an honest one never
            // could: an id outside its own cells, or one that peels twice. Either means the
            // table is not a difference of two sets, and peeling it could go on for ever.
            if !positions(cells.len(), id).contains(&index) {
                continue;
            }
            if !decoded.insert(id) {
                return None;
            }
            if sign > 0 {
                difference.only_left.push(id);
            } else {
                difference.only_right.push(id);
            }
            for position in positions(cells.len(), id) {
                cells[position].toggle(id, -sign);
                if cells[position].pure_id().is_some() {
                    pure.push(position);
                }
            }
        }
        cells.iter().all(CellFields::is_clear).then_some(difference)
    }
}

/// The cells of a table of `cells` cells that `id` goes to, one in each third.
fn positions(cells: usize, id: u64) -> [usize; HASHES] {
    let third = cells / HASHES;
    std::array::from_fn(|i| {
        i * third + (xxh3_64_with_seed(&id.to_le_bytes(), i as u64) % third as u64) as usize
    })
}

/// Serialized as its packed cells, without a copy of the table (answers are large).
impl Serialize for Iblt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.as_bytes())
    }
}

/// Decoded from the message's own bytes where the format lends them (postcard does), so a
/// received table is not first copied whole.
impl<'de> Deserialize<'de> for Iblt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Packed;
        impl serde::de::Visitor<'_> for Packed {
            type Value = Iblt;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("packed table cells")
            }

            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Iblt, E> {
                Iblt::try_from(bytes).map_err(E::custom)
            }
        }
        deserializer.deserialize_bytes(Packed)
    }
}

impl TryFrom<&[u8]> for Iblt {
    type Error = String;

    fn try_from(bytes: &[u8]) -> Result<Self, String> {
        let cells = bytes.len() / CELL_BYTES;
        if !bytes.len().is_multiple_of(CELL_BYTES) || !(cells == 0 || Iblt::is_shape(cells)) {
            return Err(format!(
                "{} bytes is not three times a power of two of cells",
                bytes.len()
            ));
        }
        let (cells, _) = bytes.as_chunks::<CELL_BYTES>();
        Ok(Iblt {
            cells: Arc::new(cells.to_vec()),
        })
    }
}

/// Number of strata: enough to estimate differences up to 2^24 ids.
const STRATA: usize = 24;
/// Cells per stratum.
const STRATUM_CELLS: usize = 24;

/// Estimates the size of a set difference: stratum `i` holds the ids with `i` trailing zeros
/// (a 2^-(i+1) sample), and the deepest strata that still decode are scaled up.
///
/// It decodes with at most its number of strata: a frame claiming more is refused before any
/// is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrataEstimator {
    #[serde(deserialize_with = "crate::reconciliation::at_most::<_, _, STRATA>")]
    strata: Vec<Iblt>,
}

impl Default for StrataEstimator {
    fn default() -> Self {
        StrataEstimator {
            strata: vec![Iblt::new(STRATUM_CELLS); STRATA],
        }
    }
}

impl StrataEstimator {
    /// Adds one id.
    pub fn insert(&mut self, id: u64) {
        self.strata[Self::stratum(id)].insert(id);
    }

    /// Takes out one id that was added.
    pub fn remove(&mut self, id: u64) {
        self.strata[Self::stratum(id)].remove(id);
    }

    fn stratum(id: u64) -> usize {
        (xxh3_64_with_seed(&id.to_le_bytes(), 0x57a7a).trailing_zeros() as usize).min(STRATA - 1)
    }

    /// Estimates the size of the symmetric difference between the two sets. `None` if the
    /// estimators do not have the same shape (every stratum the same size).
    pub fn estimate(&self, other: &StrataEstimator) -> Option<u64> {
        let same_shape = self.strata.len() == other.strata.len()
            && self
                .strata
                .iter()
                .zip(&other.strata)
                .all(|(a, b)| a.len() == b.len());
        if !same_shape {
            return None;
        }
        let mut decoded = 0u64;
        for level in (0..self.strata.len()).rev() {
            match self.strata[level].clone().difference(&other.strata[level]) {
                Some(difference) => {
                    decoded += (difference.only_left.len() + difference.only_right.len()) as u64
                }
                None => return Some(decoded.max(1) << (level + 1)),
            }
        }
        Some(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u64>) -> impl Iterator<Item = u64> {
        range.map(|i| xxh3_64_with_seed(&i.to_le_bytes(), 99))
    }

    fn table(cells: usize, members: impl Iterator<Item = u64>) -> Iblt {
        let mut table = Iblt::new(cells);
        members.for_each(|id| table.insert(id));
        table
    }

    #[test]
    fn recovers_both_sides_of_a_small_difference_between_large_sets() {
        let left = table(60, ids(0..10_000));
        let right = table(60, ids(5..10_010));
        let mut difference = left.difference(&right).expect("decodes");
        difference.only_left.sort();
        difference.only_right.sort();
        let mut expected_left: Vec<u64> = ids(0..5).collect();
        let mut expected_right: Vec<u64> = ids(10_000..10_010).collect();
        expected_left.sort();
        expected_right.sort();
        assert_eq!(
            difference,
            Difference {
                only_left: expected_left,
                only_right: expected_right
            }
        );
    }

    #[test]
    fn removing_ids_gives_the_table_of_the_rest() {
        let mut table = table(60, ids(0..1000));
        let mut strata = StrataEstimator::default();
        ids(0..1000).for_each(|id| strata.insert(id));
        for id in ids(500..1000) {
            table.remove(id);
            strata.remove(id);
        }
        assert_eq!(table, super::tests::table(60, ids(0..500)));
        let mut fresh = StrataEstimator::default();
        ids(0..500).for_each(|id| fresh.insert(id));
        assert_eq!(strata, fresh);
    }

    #[test]
    fn a_folded_table_is_the_table_of_that_size() {
        let large = table(3 * 1024, ids(0..5000));
        for cells in [3, 6, 48, 96, 3 * 1024] {
            assert_eq!(
                large.fold(cells),
                Some(table(cells, ids(0..5000))),
                "{cells}"
            );
        }
        assert_eq!(large.fold(3 * 2048), None);
        assert_eq!(Iblt::rounded(60), 96);
        assert!(Iblt::is_shape(48) && !Iblt::is_shape(60) && !Iblt::is_shape(0));
    }

    #[test]
    fn equal_sets_decode_to_nothing() {
        let a = table(9, ids(0..1000));
        assert_eq!(a.clone().difference(&a), Some(Difference::default()));
    }

    #[test]
    fn a_table_too_small_says_so() {
        let left = table(12, ids(0..1000));
        let right = table(12, ids(500..1500));
        assert_eq!(left.clone().difference(&right), None);
        assert_eq!(left.difference(&Iblt::new(24)), None, "sizes differ");
    }

    #[test]
    fn a_hostile_table_that_would_peel_for_ever_is_refused() {
        let mine = Iblt::new(48);
        let id = 42u64;
        let mut cycle = Iblt::new(48);
        let index = positions(cycle.len(), id)[0];
        Arc::make_mut(&mut cycle.cells)[index].toggle(id, 1);
        assert_eq!(mine.clone().difference(&cycle), None);
        let mut elsewhere = Iblt::new(48);
        let outside = (0..48)
            .find(|i| !positions(elsewhere.len(), id).contains(i))
            .unwrap();
        Arc::make_mut(&mut elsewhere.cells)[outside].toggle(id, 1);
        assert_eq!(mine.difference(&elsewhere), None);
    }

    #[test]
    fn survives_the_wire_and_rejects_ragged_bytes() {
        let left = table(48, ids(0..100));
        let bytes = left.as_bytes().to_vec();
        assert_eq!(bytes.len(), 48 * CELL_BYTES);
        assert_eq!(Iblt::try_from(bytes.as_slice()).unwrap(), left);
        let encoded = postcard::to_allocvec(&left).unwrap();
        assert_eq!(postcard::from_bytes::<Iblt>(&encoded).unwrap(), left);
        assert!(Iblt::try_from(&[0u8; 17][..]).is_err());
        assert!(
            Iblt::try_from(&[0u8; 30 * CELL_BYTES][..]).is_err(),
            "not foldable"
        );
    }

    #[test]
    fn estimators_of_another_shape_give_no_estimate() {
        let honest = StrataEstimator::default();
        let small_strata = StrataEstimator {
            strata: vec![Iblt::new(3); STRATA],
        };
        let few_strata = StrataEstimator {
            strata: vec![Iblt::new(STRATUM_CELLS); 2],
        };
        assert_eq!(honest.estimate(&small_strata), None);
        assert_eq!(honest.estimate(&few_strata), None);
        assert_eq!(honest.estimate(&honest.clone()), Some(0));
    }

    #[test]
    fn the_strata_estimate_is_within_a_small_factor() {
        for difference in [1u64, 10, 100, 1000, 10_000] {
            let mut left = StrataEstimator::default();
            let mut right = StrataEstimator::default();
            ids(0..20_000).for_each(|id| left.insert(id));
            ids(difference..20_000 + difference).for_each(|id| right.insert(id));
            let truth = 2 * difference;
            let estimate = left.estimate(&right).unwrap();
            assert!(
                estimate * 4 >= truth && estimate <= truth * 4,
                "truth {truth}, estimate {estimate}"
            );
        }
    }
}
