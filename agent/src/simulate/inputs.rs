//! The morning test of the panic button (一键报警测试): a few minutes after `open` a member
//! of staff presses each panic input as a test (`test: true`) and releases it, so the demo
//! shows a test press and `panic_untested` never comes due. Fixed times, no random values,
//! and planned last, so that adding it moved no other event.

use super::plan::Secs;
use super::Planner;
use crate::config::InputKind;
use crate::event::{EventKind, InputState};

impl Planner<'_> {
    pub(super) fn emit_panic_tests(&mut self) {
        let panic: Vec<String> = self
            .cfg
            .inputs
            .iter()
            .filter(|i| i.kind == InputKind::Panic)
            .map(|i| i.id.clone())
            .collect();
        for (n, input) in panic.into_iter().enumerate() {
            let at = (self.open as Secs + 20 + n as Secs) * 60;
            for (dt, state) in [(0, InputState::Active), (3, InputState::Clear)] {
                let kind = EventKind::Input {
                    input: input.clone(),
                    state,
                    test: true,
                };
                self.push(at + dt, kind);
            }
        }
    }
}
