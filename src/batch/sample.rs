//! Sampling QA: before a batch is approved a supervisor inspects a random
//! sample of the pages it would send (besides everything flagged). How big a
//! sample is, which sides it holds for a seed, and what its verdicts add up
//! to are decided here; the store keeps the draws and verdicts.
//!
//! Pure. The draw is reproducible: the same seed and the same sides give the
//! same sample on any build, so an auditor can draw it again.

use serde::{Deserialize, Serialize};

/// How many of `sides` a sample holds: `percent` of them rounded up, at
/// least `min_pages`, at most all of them.
pub fn size(sides: u32, percent: f32, min_pages: u32) -> u32 {
    let share = (f64::from(sides) * f64::from(percent.clamp(0.0, 100.0)) / 100.0).ceil();
    // `share` lies within 0..=sides, so the conversion is exact.
    (share as u32).max(min_pages).min(sides)
}

/// The sample for `seed` from the candidate sides: `n` of them, in the order
/// they are inspected (side order, which is paper order).
///
/// Our own generator (SplitMix64) and Fisher-Yates rather than a crate's
/// RNG: `rand`'s seeded generators promise no stable output across versions,
/// and a recorded sample must be drawn again identically years later.
pub fn draw(seed: u64, candidates: &[u32], n: u32) -> Vec<u32> {
    let mut pool = candidates.to_vec();
    pool.sort_unstable();
    pool.dedup();
    let n = (n as usize).min(pool.len());
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    // A partial Fisher-Yates: the first n places get a uniform choice.
    for i in 0..n {
        let left = (pool.len() - i) as u64;
        // Multiply-shift keeps the bias below 2^-32 for any pool we meet.
        let j = i + ((u128::from(next()) * u128::from(left)) >> 64) as usize;
        pool.swap(i, j);
    }
    let mut chosen = pool[..n].to_vec();
    chosen.sort_unstable();
    chosen
}

/// One sampled side's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub side: u32,
    pub passed: bool,
    /// Why it failed (required for a failure), as typed.
    pub reason: String,
    pub operator: String,
    pub at: String,
}

/// Where a batch's sampling stands, as the approval rule sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SampleState {
    /// The station does not ask for samples (no accounts, or switched off).
    NotRequired,
    /// No sample drawn yet.
    NotDrawn,
    /// Drawn; some sides still wait for a verdict.
    Open { draw: u32, done: u32, of: u32 },
    /// Every side passed.
    Passed { draw: u32, by: String, at: String },
    /// Some side failed: those sides go back for rescan, then a new draw.
    Failed { draw: u32, failed: Vec<u32> },
}

impl SampleState {
    /// What the verdicts of a draw of `sides` add up to.
    pub fn of(draw: u32, sides: &[u32], verdicts: &[Verdict]) -> SampleState {
        let judged = |s: &u32| verdicts.iter().find(|v| v.side == *s);
        let done = sides.iter().filter(|s| judged(s).is_some()).count() as u32;
        if done < sides.len() as u32 {
            return SampleState::Open {
                draw,
                done,
                of: sides.len() as u32,
            };
        }
        let failed: Vec<u32> = verdicts
            .iter()
            .filter(|v| !v.passed && sides.contains(&v.side))
            .map(|v| v.side)
            .collect();
        if !failed.is_empty() {
            return SampleState::Failed { draw, failed };
        }
        // The last verdict closes the sample: its author and time stand for it.
        let last = verdicts.iter().max_by(|a, b| a.at.cmp(&b.at));
        SampleState::Passed {
            draw,
            by: last.map(|v| v.operator.clone()).unwrap_or_default(),
            at: last.map(|v| v.at.clone()).unwrap_or_default(),
        }
    }

    /// Whether a new sample may be drawn: none yet, or the last failed (its
    /// sides rescanned). Never over an open or passed one, so nobody can draw
    /// again until a sample suits them.
    pub fn may_draw(&self) -> bool {
        matches!(self, SampleState::NotDrawn | SampleState::Failed { .. })
    }

    /// Words for the window and the command line.
    pub fn words(&self) -> String {
        match self {
            SampleState::NotRequired => "no sample needed at this station".into(),
            SampleState::NotDrawn => "no sample drawn yet".into(),
            SampleState::Open { done, of, .. } => {
                format!("sample open ({done} of {of} sides checked)")
            }
            SampleState::Passed { by, .. } => {
                format!("sample passed (checked by {})", super::printable(by, 40))
            }
            SampleState::Failed { failed, .. } => format!(
                "sample failed on side(s) {}: rescan them, then draw a new sample",
                failed
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_five_percent_and_at_least_five_pages() {
        assert_eq!(size(1000, 5.0, 5), 50);
        assert_eq!(size(101, 5.0, 5), 6);
        assert_eq!(size(40, 5.0, 5), 5);
        assert_eq!(size(3, 5.0, 5), 3);
        assert_eq!(size(0, 5.0, 5), 0);
        assert_eq!(size(10, 100.0, 1), 10);
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_and_others_differ() {
        let sides: Vec<u32> = (1..=200).collect();
        let a = draw(42, &sides, 10);
        assert_eq!(a, draw(42, &sides, 10));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
        assert!(a.iter().all(|s| sides.contains(s)));
        assert_ne!(a, draw(43, &sides, 10));
        // Fixed for ever: a recorded sample can be drawn again by anyone.
        assert_eq!(draw(7, &[1, 2, 3, 4, 5, 6, 7, 8], 3), vec![2, 4, 8]);
        // Duplicates and order of the candidates do not matter.
        assert_eq!(draw(9, &[5, 1, 3, 3, 1], 2), draw(9, &[1, 3, 5], 2));
        assert_eq!(draw(1, &[4, 9], 5), vec![4, 9]);
    }

    #[test]
    fn every_side_is_drawn_about_as_often() {
        let sides: Vec<u32> = (1..=20).collect();
        let mut hits = [0u32; 21];
        for seed in 0..4000 {
            for s in draw(seed, &sides, 5) {
                hits[s as usize] += 1;
            }
        }
        // 4000 draws of 5 of 20: 1000 each expected.
        for (s, n) in hits.iter().enumerate().skip(1) {
            assert!((850..1150).contains(n), "side {s}: {n}");
        }
    }

    fn v(side: u32, passed: bool, at: &str) -> Verdict {
        Verdict {
            side,
            passed,
            reason: if passed { "" } else { "blurred" }.into(),
            operator: "m.jones".into(),
            at: at.into(),
        }
    }

    #[test]
    fn verdicts_add_up_to_open_passed_or_failed() {
        let sides = [2, 5, 8];
        assert_eq!(
            SampleState::of(1, &sides, &[v(2, true, "a")]),
            SampleState::Open {
                draw: 1,
                done: 1,
                of: 3
            }
        );
        let all = [v(2, true, "a"), v(5, true, "c"), v(8, true, "b")];
        assert!(matches!(
            SampleState::of(1, &sides, &all),
            SampleState::Passed { by, at, .. } if by == "m.jones" && at == "c"
        ));
        let failed = [v(2, true, "a"), v(5, false, "b"), v(8, true, "c")];
        let s = SampleState::of(2, &sides, &failed);
        assert_eq!(
            s,
            SampleState::Failed {
                draw: 2,
                failed: vec![5]
            }
        );
        assert!(s.may_draw());
        assert!(s.words().contains("side(s) 5"), "{}", s.words());
        assert!(!SampleState::of(1, &sides, &all).may_draw());
        assert!(SampleState::NotDrawn.may_draw());
    }
}
