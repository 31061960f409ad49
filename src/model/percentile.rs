//! Percentiles of measured values (latencies, costs): p50, p95 and the like.

/// The `percent`-th percentile of `values` by the nearest-rank method: the
/// smallest value that at least `percent`% of the values are less than or
/// equal to. It is always one of the values (a latency that was measured, not
/// an interpolation); `None` when there are none. `percent` is clamped to
/// 0–100, and 0 gives the smallest value.
///
/// Reorders `values` (a selection, O(n) on average, rather than a sort).
///
/// ```
/// use prompt_runs::model::percentile;
/// let mut latencies = [120, 80, 300, 95];
/// assert_eq!(percentile(&mut latencies, 50.0), Some(95));
/// assert_eq!(percentile(&mut latencies, 95.0), Some(300));
/// ```
pub fn percentile<T: Ord + Copy>(values: &mut [T], percent: f64) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let rank = nearest_rank(values.len(), percent);
    let (_, value, _) = values.select_nth_unstable(rank - 1);
    Some(*value)
}

/// The 1-based rank of the `percent`-th percentile among `count` sorted
/// values by the nearest-rank method (see [`percentile`]): ⌈percent/100 ·
/// count⌉, at least 1; `percent` is clamped to 0–100. For structures that
/// keep their values in order and pick the value at a rank without a
/// selection (the store's per-model percentiles).
///
/// ```
/// use prompt_runs::model::nearest_rank;
/// assert_eq!(nearest_rank(20, 95.0), 19);
/// assert_eq!(nearest_rank(20, 0.0), 1);
/// ```
pub fn nearest_rank(count: usize, percent: f64) -> usize {
    let share = percent.clamp(0.0, 100.0) / 100.0;
    ((share * count as f64).ceil() as usize).clamp(1, count.max(1))
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn follows_the_nearest_rank_definition() {
        assert_eq!(percentile::<u64>(&mut [], 50.0), None);
        assert_eq!(percentile(&mut [7], 50.0), Some(7));
        let mut values = [15, 20, 35, 40, 50];
        assert_eq!(percentile(&mut values, 5.0), Some(15));
        assert_eq!(percentile(&mut values, 30.0), Some(20));
        assert_eq!(percentile(&mut values, 40.0), Some(20));
        assert_eq!(percentile(&mut values, 50.0), Some(35));
        assert_eq!(percentile(&mut values, 100.0), Some(50));
        assert_eq!(percentile(&mut values, 0.0), Some(15));
        assert_eq!(percentile(&mut values, 250.0), Some(50), "clamped");
        assert_eq!(percentile(&mut [1, 2, 3, 4], 50.0), Some(2));
    }

    proptest! {
        #[test]
        fn matches_a_sorted_reference(
            values in proptest::collection::vec(0u64..1_000, 1..200),
            percent in 0.0f64..=100.0,
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = ((percent / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
            let mut shuffled = values.clone();
            let found = percentile(&mut shuffled, percent).unwrap();
            prop_assert_eq!(found, sorted[rank - 1]);
            // The defining property, checked without the formula: at least
            // `percent`% of the values are ≤ it, and fewer are < it.
            let at_most = values.iter().filter(|&&v| v <= found).count() as f64;
            let below = values.iter().filter(|&&v| v < found).count() as f64;
            let needed = percent / 100.0 * values.len() as f64;
            prop_assert!(at_most >= needed - 1e-9);
            prop_assert!(below < needed.max(1.0));
        }
    }
}
