//! Test presses of panic buttons on GPIO (contract section 9: `input` with `test: true`).
//!
//! A button on a GPIO line cannot say that a press is a test. A member of staff says so
//! first on the staff page, which arms the input for [`TEST_WINDOW`]; the next press of that
//! input within the window, and the release that follows it, are sent as test presses. So
//! the journal holds the contract's `test: true` events, and `replay` gives the same. An
//! arming that is not used expires by itself: a real emergency later is never a test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::{EventKind, InputState};

/// How long after arming a press counts as a test.
pub const TEST_WINDOW: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
enum Arm {
    /// Armed: the next press before this moment is a test.
    Until(Instant),
    /// The test press is under way: its release is a test too.
    Pressed,
}

/// Which inputs are armed for a test press; shared by the staff page (which arms) and the
/// hardware threads (which mark).
#[derive(Debug, Clone, Default)]
pub struct TestPresses(Arc<Mutex<HashMap<String, Arm>>>);

impl TestPresses {
    /// Arms `input` from `now`: its next press within [`TEST_WINDOW`] is a test.
    pub fn arm(&self, input: &str, now: Instant) {
        let mut arms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        arms.insert(input.to_string(), Arm::Until(now + TEST_WINDOW));
    }

    /// Whether `input` is armed and unused at `now`.
    pub fn armed(&self, input: &str, now: Instant) -> bool {
        let arms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        matches!(arms.get(input), Some(Arm::Until(t)) if now <= *t)
    }

    /// Marks `kind` as a test when it is a press (or the release after one) of an armed
    /// input; anything else passes unchanged.
    pub fn mark(&self, kind: &mut EventKind, now: Instant) {
        let EventKind::Input { input, state, test } = kind else {
            return;
        };
        let mut arms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match (arms.get(input.as_str()).copied(), *state) {
            (Some(Arm::Until(t)), InputState::Active) if now <= t => {
                *test = true;
                arms.insert(input.clone(), Arm::Pressed);
            }
            (Some(Arm::Until(t)), _) if now > t => {
                arms.remove(input.as_str());
            }
            (Some(Arm::Pressed), InputState::Clear) => {
                *test = true;
                arms.remove(input.as_str());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(state: InputState) -> EventKind {
        EventKind::Input {
            input: "panic-office".into(),
            state,
            test: false,
        }
    }

    fn is_test(k: &EventKind) -> bool {
        matches!(k, EventKind::Input { test: true, .. })
    }

    #[test]
    fn a_press_after_arming_and_its_release_are_test_presses_and_the_next_press_is_real() {
        let t = TestPresses::default();
        let t0 = Instant::now();
        t.arm("panic-office", t0);
        assert!(t.armed("panic-office", t0));
        let mut press = input(InputState::Active);
        t.mark(&mut press, t0 + Duration::from_secs(30));
        assert!(is_test(&press));
        assert!(!t.armed("panic-office", t0 + Duration::from_secs(31)));
        let mut release = input(InputState::Clear);
        t.mark(&mut release, t0 + Duration::from_secs(31));
        assert!(is_test(&release));
        let mut real = input(InputState::Active);
        t.mark(&mut real, t0 + Duration::from_secs(40));
        assert!(!is_test(&real), "one arming covers one press");
    }

    #[test]
    fn an_arming_not_used_within_the_window_expires_and_a_later_press_is_real() {
        let t = TestPresses::default();
        let t0 = Instant::now();
        t.arm("panic-office", t0);
        let mut press = input(InputState::Active);
        t.mark(&mut press, t0 + TEST_WINDOW + Duration::from_secs(1));
        assert!(!is_test(&press));
        assert!(!t.armed("panic-office", t0 + TEST_WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn arming_one_input_leaves_the_others_and_other_events_alone() {
        let t = TestPresses::default();
        let t0 = Instant::now();
        t.arm("panic-office", t0);
        let mut other = EventKind::Input {
            input: "panic-hall".into(),
            state: InputState::Active,
            test: false,
        };
        t.mark(&mut other, t0);
        assert!(!is_test(&other));
        let mut door = EventKind::ExitButton {
            door: "entrance".into(),
        };
        t.mark(&mut door, t0);
        assert!(matches!(door, EventKind::ExitButton { .. }));
        assert!(t.armed("panic-office", t0));
    }
}
