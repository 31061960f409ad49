//! Values kept in order as runs come and go, so that a percentile is read
//! without sorting or selecting: the store's per-model p50 and p95.

use crate::model::nearest_rank;

/// Most values a block holds before it splits in two. Inserting or removing
/// moves at most this many values; finding a rank walks one length per
/// block (100,000 values are ~400 blocks, a few hundred additions).
const BLOCK: usize = 512;

/// A multiset of values in ascending order, as consecutive sorted blocks:
/// insert and remove in O(log n + [`BLOCK`]), the value at a rank in
/// O(n / [`BLOCK`]) additions. Flat in practice from a thousand values to
/// a hundred thousand, where one sorted `Vec` would move half of them per
/// change, and a selection (what [`percentile`](crate::model::percentile)
/// does) would look at all of them per read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ranked {
    /// Never empty blocks; each block's values are ≥ those of the one before.
    blocks: Vec<Vec<u64>>,
    len: usize,
}

impl Ranked {
    /// How many values it holds.
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `value`.
    pub(crate) fn insert(&mut self, value: u64) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(vec![value]);
            return;
        }
        // The first block whose last value is ≥ `value`, else the last.
        let at = self
            .blocks
            .partition_point(|block| block[block.len() - 1] < value)
            .min(self.blocks.len() - 1);
        let block = &mut self.blocks[at];
        let position = block.partition_point(|held| *held < value);
        block.insert(position, value);
        if block.len() > 2 * BLOCK {
            let upper = block.split_off(BLOCK);
            self.blocks.insert(at + 1, upper);
        }
    }

    /// Removes one copy of `value`; false (changing nothing) when it holds none.
    pub(crate) fn remove(&mut self, value: u64) -> bool {
        let at = self
            .blocks
            .partition_point(|block| block[block.len() - 1] < value);
        let Some(block) = self.blocks.get_mut(at) else {
            return false;
        };
        let position = block.partition_point(|held| *held < value);
        if block.get(position) != Some(&value) {
            return false;
        }
        block.remove(position);
        if block.is_empty() {
            self.blocks.remove(at);
        }
        self.len -= 1;
        true
    }

    /// The `percent`-th percentile by the nearest-rank method, the same
    /// definition as [`percentile`](crate::model::percentile); `None` when empty.
    pub(crate) fn percentile(&self, percent: f64) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let mut index = nearest_rank(self.len, percent) - 1;
        for block in &self.blocks {
            match block.get(index) {
                Some(value) => return Some(*value),
                None => index -= block.len(),
            }
        }
        None
    }
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::percentile;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Change {
        Insert(u64),
        /// Removes the held value at this index (modulo how many are held),
        /// or a value never inserted when none is held.
        Remove(usize),
    }

    fn changes() -> impl Strategy<Value = Vec<Change>> {
        let change = prop_oneof![
            3 => (0u64..50).prop_map(Change::Insert),
            3 => (0u64..u64::MAX).prop_map(Change::Insert),
            2 => any::<usize>().prop_map(Change::Remove),
        ];
        proptest::collection::vec(change, 0..3_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn percentiles_match_a_sorted_reference_through_inserts_and_removes(
            changes in changes(),
            percent in 0.0f64..=100.0,
        ) {
            let mut ranked = Ranked::default();
            let mut reference: Vec<u64> = Vec::new();
            for change in changes {
                match change {
                    Change::Insert(value) => {
                        ranked.insert(value);
                        reference.push(value);
                    }
                    Change::Remove(_) if reference.is_empty() => {
                        prop_assert!(!ranked.remove(7), "nothing to remove");
                    }
                    Change::Remove(index) => {
                        let value = reference.swap_remove(index % reference.len());
                        prop_assert!(ranked.remove(value));
                    }
                }
                prop_assert_eq!(ranked.len(), reference.len());
            }
            let mut sorted = reference.clone();
            sorted.sort_unstable();
            for percent in [percent, 0.0, 50.0, 95.0, 100.0] {
                let expected = percentile(&mut reference.clone(), percent);
                prop_assert_eq!(ranked.percentile(percent), expected);
            }
            let held: Vec<u64> = ranked.blocks.concat();
            prop_assert_eq!(held, sorted, "every value, in order");
            prop_assert!(ranked.blocks.iter().all(|block| !block.is_empty() && block.len() <= 2 * BLOCK));
        }
    }

    #[test]
    fn removing_a_value_not_held_changes_nothing() {
        let mut ranked = Ranked::default();
        for value in [5, 1, 9] {
            ranked.insert(value);
        }
        let before = ranked.clone();
        assert!(!ranked.remove(4));
        assert!(!ranked.remove(10));
        assert_eq!(ranked, before);
        assert_eq!(ranked.percentile(50.0), Some(5));
        assert_eq!(Ranked::default().percentile(50.0), None);
    }
}
