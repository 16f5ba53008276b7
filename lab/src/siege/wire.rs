//! The reconciliation protocol's messages, encoded by hand (postcard: a varint variant
//! index, varint integers, length-prefixed byte strings and sequences), not with the node's
//! code. Kinds by their index: Hello 0, InSync 1, Probe 2, Estimate 3, Sketch 4,
//! SketchTooSmall 5, Ids 6, IdsFrom 7, Records 8.

/// Cells of one stratum of an estimator, and strata in one.
const STRATUM_CELLS: usize = 24;
const STRATA: usize = 24;
/// Bytes of one table cell.
pub const CELL_BYTES: usize = 16;

/// Appends `value` as a postcard varint (LEB128).
pub fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint at `at`, moving `at` past it.
pub fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// A `Hello` with a summary no store has (count 1, fingerprint 1).
pub fn hello() -> Vec<u8> {
    vec![0, 1, 1]
}

/// An `Estimate` claiming 2^64 - 1 keys, its strata's cells from `fill` (random cells make
/// no stratum decode; empty ones make the node estimate its own store).
pub fn estimate(fill: &mut impl FnMut() -> u64) -> Vec<u8> {
    let mut out = vec![3];
    varint(&mut out, u64::MAX);
    varint(&mut out, STRATA as u64);
    for _ in 0..STRATA {
        table(&mut out, STRATUM_CELLS, fill);
    }
    out
}

/// Appends a table of `cells` cells, each two words from `fill`.
fn table(out: &mut Vec<u8>, cells: usize, fill: &mut impl FnMut() -> u64) {
    varint(out, (cells * CELL_BYTES) as u64);
    for _ in 0..cells * 2 {
        out.extend_from_slice(&fill().to_le_bytes());
    }
}

/// A `Sketch` of `cells` random cells.
pub fn sketch(cells: u64, noise: &mut impl FnMut() -> u64) -> Vec<u8> {
    let mut out = vec![4, 0];
    table(&mut out, cells as usize, noise);
    out
}

/// A `SketchTooSmall` for the node's sketch of `cells` cells at attempt `attempt`.
pub fn sketch_too_small(attempt: u8, cells: u64) -> Vec<u8> {
    let mut out = vec![5, attempt];
    varint(&mut out, cells);
    out
}

/// An `IdsFrom`: the page of the node's ids from `from` on.
pub fn ids_from(from: u64) -> Vec<u8> {
    let mut out = vec![7];
    varint(&mut out, from);
    out
}

/// `Records` carrying `writes` (each encoded by the caller), wanting `want`, offering none.
pub fn records(writes: &[Vec<u8>], want: &[u64]) -> Vec<u8> {
    let mut out = vec![8];
    varint(&mut out, writes.len() as u64);
    writes.iter().for_each(|write| out.extend_from_slice(write));
    varint(&mut out, want.len() as u64);
    want.iter().for_each(|&id| varint(&mut out, id));
    out.push(0);
    out
}

/// A `Records` that carries no write and wants `ids`.
pub fn want(ids: &[u64]) -> Vec<u8> {
    records(&[], ids)
}

/// The kind index of an encoded message (its first byte).
pub fn kind(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

/// The range (`from`, `to`) and the ids of an `Ids` page, if `bytes` is one.
pub fn page(bytes: &[u8]) -> Option<(u64, u64, Vec<u64>)> {
    if kind(bytes) != Some(6) {
        return None;
    }
    let mut at = 1;
    let from = read_varint(bytes, &mut at)?;
    let to = read_varint(bytes, &mut at)?;
    let count = read_varint(bytes, &mut at)?;
    let ids = (0..count)
        .map(|_| read_varint(bytes, &mut at))
        .collect::<Option<_>>()?;
    Some((from, to, ids))
}
