//! Inclusive seq ranges: the holes in what was stored, less what the agent said it no
//! longer holds.

use serde::Serialize;

/// `from..=to`, both at least 1, `from <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub from: i64,
    pub to: i64,
}

impl Range {
    pub fn new(from: i64, to: i64) -> Range {
        debug_assert!(from <= to);
        Range { from, to }
    }

    pub fn count(&self) -> i64 {
        self.to - self.from + 1
    }

    /// The first `max` seqs of the range (the whole range when it is shorter).
    pub fn first(&self, max: i64) -> Range {
        Range::new(self.from, self.to.min(self.from + max.max(1) - 1))
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// `holes` less every range of `gone`; both sorted or not, the result is sorted.
pub fn subtract(holes: &[Range], gone: &[Range]) -> Vec<Range> {
    let mut gone: Vec<Range> = gone.to_vec();
    gone.sort_by_key(|r| r.from);
    let mut out = Vec::new();
    let mut holes = holes.to_vec();
    holes.sort_by_key(|r| r.from);
    for h in holes {
        let mut from = h.from;
        for g in &gone {
            if g.to < from || g.from > h.to {
                continue;
            }
            if g.from > from {
                out.push(Range::new(from, g.from - 1));
            }
            from = from.max(g.to + 1);
            if from > h.to {
                break;
            }
        }
        if from <= h.to {
            out.push(Range::new(from, h.to));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(from: i64, to: i64) -> Range {
        Range::new(from, to)
    }

    #[test]
    fn a_hole_less_an_unrecoverable_part_in_its_middle_leaves_both_ends() {
        assert_eq!(subtract(&[r(2, 10)], &[r(4, 6)]), vec![r(2, 3), r(7, 10)]);
    }

    #[test]
    fn a_hole_covered_by_unrecoverable_ranges_is_gone() {
        assert_eq!(subtract(&[r(2, 10)], &[r(1, 5), r(6, 12)]), vec![]);
        assert_eq!(subtract(&[r(2, 2)], &[r(2, 2)]), vec![]);
    }

    #[test]
    fn unrecoverable_ranges_outside_a_hole_leave_it_whole() {
        assert_eq!(
            subtract(&[r(5, 8), r(20, 21)], &[r(1, 4), r(9, 19)]),
            vec![r(5, 8), r(20, 21)]
        );
    }

    #[test]
    fn a_long_hole_is_asked_for_in_bounded_pieces() {
        assert_eq!(r(2, 1000).first(100), r(2, 101));
        assert_eq!(r(2, 5).first(100), r(2, 5));
        assert_eq!(r(7, 7).first(0), r(7, 7));
        assert_eq!(r(2, 1000).first(100).count(), 100);
    }
}
