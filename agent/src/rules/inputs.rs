//! Panic and fire inputs, their test presses, the daily check at `open`, and dispositions
//! (contract sections 9 and 10).
//!
//! A panic input (一键报警) going active raises `panic_button` (critical), which stays open
//! until someone records a disposition for it: releasing the button says nothing about the
//! emergency. A fire input raises `fire_alarm` (critical) while active. A test press
//! (`test: true`) raises nothing and restarts the panic input's `panic_test_every`; at
//! `open`, a panic input untested for that long is `panic_untested` (warning) until one.
//! A disposition (一事一反馈) names an open or recently resolved alert and gives it a
//! `disposed` transition with the action and the staff id only.

use super::state::Recent;
use super::transitions::{Disposed, Nothing, Untested};
use super::{Dt, Engine, Rejection};
use crate::alert::{AlertState, AlertType, Transition};
use crate::config::InputKind;
use crate::event::{DispositionAction, InputState};

impl Engine {
    pub(super) fn input_ix(&self, id: &str) -> Result<usize, Rejection> {
        self.m
            .input_ix
            .get(id)
            .copied()
            .ok_or_else(|| Rejection::Unknown {
                what: "input",
                id: id.to_string(),
            })
    }

    /// Input `i` became `state` at `now`.
    pub(super) fn input(
        &mut self,
        i: usize,
        state: InputState,
        test: bool,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let id = self.m.inputs[i].id.clone();
        let kind = self.m.inputs[i].kind;
        let active = state == InputState::Active;
        let was = std::mem::replace(&mut self.s.inputs[i].active, active);
        if test {
            if active {
                self.s.inputs[i].last_test = Some(now);
                if let Some(a) = self.s.inputs[i].untested.take() {
                    let ty = AlertType::PanicUntested;
                    self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
                }
            }
            return;
        }
        if kind == InputKind::Fire && active && !was {
            // Contract section 9: a fire input going active starts a `fire` emergency.
            self.start_emergency(crate::event::EmergencyKind::Fire, now);
        }
        match (kind, active) {
            (_, true) if !was && self.s.inputs[i].alert.is_none() => {
                let a = self.raise(kind.alert_type(), &id, now, &Nothing {}, out);
                self.s.inputs[i].alert = Some(a);
            }
            (InputKind::Fire, false) => {
                if let Some(a) = self.s.inputs[i].alert.take() {
                    self.resolve_alert(AlertType::FireAlarm, &id, a, now, &Nothing {}, out);
                }
            }
            // A panic button released, or pressed again while its alert is open.
            _ => {}
        }
    }

    /// At `open`: every panic input with no test press within `panic_test_every`, counted
    /// from its latest test or else from the engine's first moment.
    pub(super) fn panic_tests_due(&mut self, due: Dt, out: &mut Vec<Transition>) {
        let every = self.m.rules.panic_test_every;
        for i in 0..self.m.inputs.len() {
            let x = &self.s.inputs[i];
            if self.m.inputs[i].kind != InputKind::Panic || x.untested.is_some() {
                continue;
            }
            let Some(from) = x.last_test.or(self.s.started) else {
                continue;
            };
            if from.checked_add_signed(every).is_none_or(|d| d > due) {
                continue;
            }
            let id = self.m.inputs[i].id.clone();
            let details = Untested {
                last_test: x.last_test.map(|t| self.local(t).to_rfc3339()),
                every_s: every.num_seconds(),
            };
            let a = self.raise(AlertType::PanicUntested, &id, due, &details, out);
            self.s.inputs[i].untested = Some(a);
        }
    }

    /// The open or recently resolved alert a disposition names: its type and subject.
    pub(super) fn disposable(&self, alert_id: &str) -> Option<(AlertType, String)> {
        let open = self.s.open_alerts(&self.m);
        if let Some((_, ty, subject)) = open.into_iter().find(|(a, ..)| a.id == alert_id) {
            return Some((ty, subject));
        }
        self.s
            .recent
            .iter()
            .rev()
            .find(|Recent { id, .. }| id == alert_id)
            .map(|r| (r.ty, r.subject.clone()))
    }

    /// Staff member `by` recorded `action` about the alert: a `disposed` transition, and a
    /// panic button's alert resolves.
    pub(super) fn dispose(
        &mut self,
        alert_id: &str,
        by: &str,
        action: DispositionAction,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let Some((ty, subject)) = self.disposable(alert_id) else {
            return;
        };
        if let Some((open, ..)) = self.s.active_mut(&self.m, alert_id) {
            open.disposed = Some((action, by.to_string(), now));
        }
        let details = Disposed {
            action: action.as_str(),
            by,
        };
        let t = self.transition(ty, &subject, alert_id, AlertState::Disposed, now, &details);
        out.push(t);
        if ty == AlertType::PanicButton {
            if let Some(i) = self.m.input_ix.get(&subject).copied() {
                if let Some(a) = self.s.inputs[i].alert.take() {
                    self.resolve_alert(ty, &subject, a, now, &Nothing {}, out);
                }
            }
        }
    }
}
