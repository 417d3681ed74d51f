//! Who counts (contract sections 9 and 10): presence and certificates.
//!
//! A member of staff counts toward a room's ratio when their role counts, they are on
//! duty (`presence`: `on_duty` at every check-in, `break`, `other_work`) and they hold
//! every kind of `required_certificates`, valid on the local date judged (a certificate is
//! valid up to and including its `expires` date). A break, a return or a certificate
//! running out at midnight re-judges the room at once; the ratio's grace period then runs
//! as for any other shortfall.
//!
//! Staff whose role counts are judged for their certificates too: checking in without a
//! valid required one raises `staff_not_qualified` (one-shot, one per certificate lacking),
//! and at `open` a required certificate still valid but expiring within
//! `certificate_warning` raises `certificate_expiring`, which stays open until the roster
//! gives that certificate a later expiry (a reload, or a restart with the new file: then
//! at the next `open`). Staff whose role does not count (a cook) are not judged: the
//! certificates required are the ones that make a person count.

use chrono::NaiveDate;
use serde::Serialize;

use super::events::Resolved;
use super::model::Person;
use super::state::Expiring;
use super::transitions::{CertExpiry, NotQualified};
use super::{Dt, Engine, Rejection};
use crate::alert::{AlertType, Transition};
use crate::config::CertificateKind;
use crate::event::PresenceState;
use crate::localtime;

/// A member of staff checked in, as the staff page shows them: counted or not, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffFigures {
    pub staff: String,
    pub room: String,
    pub presence: PresenceState,
    pub counted: bool,
    /// Every reason the member of staff does not count (empty when counted): the role
    /// first, then presence, then each required certificate missing or expired.
    pub not_counted: Vec<NotCounted>,
}

/// One reason a member of staff present in a room does not count toward its ratio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotCounted {
    /// The role does not count (`counts_in_ratio`).
    Role,
    Break,
    OtherWork,
    /// The roster gives no certificate of this required kind.
    CertificateMissing {
        certificate: CertificateKind,
    },
    /// The roster's certificate of this required kind expired before the date judged.
    CertificateExpired {
        certificate: CertificateKind,
        expires: NaiveDate,
    },
}

/// A required certificate a member of staff lacks on a date: its kind, and the expiry of
/// the one the roster has, if any.
type Lacking = (CertificateKind, Option<NaiveDate>);

impl Engine {
    /// A `presence` event: for a member of staff who is checked in.
    pub(super) fn resolve_presence<'e>(
        &self,
        person: &'e str,
        state: PresenceState,
    ) -> Result<Resolved<'e>, Rejection> {
        let staff = match self.m.people.get(person) {
            Some(Person::Staff(i)) => *i,
            Some(Person::Child(_)) | Some(Person::Guardian) => {
                return Err(Rejection::Invalid(format!(
                    "`{person}` is not a member of staff; presence is for staff"
                )))
            }
            None => {
                return Err(Rejection::Unknown {
                    what: "member of staff",
                    id: person.to_string(),
                })
            }
        };
        if self.s.staff_room[staff].is_none() {
            return Err(Rejection::Invalid(format!(
                "`{person}` is not checked in; presence `{}` is for staff on the premises \
                 (check in first)",
                state.as_str()
            )));
        }
        Ok(Resolved::Presence { staff, state })
    }

    /// Staff member `i` is now `state`: their room is judged again at once.
    pub(super) fn presence(
        &mut self,
        i: usize,
        state: PresenceState,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        if self.s.presence[i] == state {
            return;
        }
        self.s.presence[i] = state;
        if let Some(r) = self.s.staff_room[i] {
            self.evaluate_room(r, now, out);
        }
    }

    /// Staff member `i` was in `from` and is now where `staff_room` says: at check-in they
    /// are on duty and judged for their certificates; at check-out their presence is
    /// forgotten. Called before their rooms are judged again.
    pub(super) fn staff_moved(
        &mut self,
        i: usize,
        from: Option<usize>,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        match (from, self.s.staff_room[i]) {
            (None, Some(_)) => {
                self.s.presence[i] = PresenceState::OnDuty;
                self.not_qualified_at_check_in(i, now, out);
            }
            (Some(_), None) => self.s.presence[i] = PresenceState::OnDuty,
            _ => {}
        }
    }

    fn not_qualified_at_check_in(&mut self, i: usize, now: Dt, out: &mut Vec<Transition>) {
        if !self.m.staff[i].counts {
            return;
        }
        let date = self.judged_date(now);
        let id = self.m.staff[i].id.clone();
        for (kind, expires) in self.lacking(i, date) {
            let details = NotQualified {
                certificate: kind.as_str(),
                expires: expires.map(|d| d.to_string()),
            };
            // One-shot: raised and never resolved, so the open alert is not kept.
            let _ = self.raise(AlertType::StaffNotQualified, &id, now, &details, out);
        }
    }

    /// The local date certificates are judged on at `now`: the date ages are judged on.
    pub(super) fn judged_date(&mut self, now: Dt) -> NaiveDate {
        self.refresh_bands(now);
        self.bands_on
            .unwrap_or_else(|| localtime::date_of(self.m.tz, now))
    }

    /// Whether staff member `i`, checked in, counts toward their room's ratio on `date`.
    pub(super) fn counts_on(&self, i: usize, date: NaiveDate) -> bool {
        self.m.staff[i].counts
            && self.s.presence[i].is_on_duty()
            && self.lacking(i, date).is_empty()
    }

    /// The required certificates staff member `i` does not hold valid on `date`.
    fn lacking(&self, i: usize, date: NaiveDate) -> Vec<Lacking> {
        let held = &self.m.staff[i].certificates;
        self.m
            .rules
            .required_certificates
            .iter()
            .filter_map(|kind| match held.get(kind) {
                Some(expires) if date <= *expires => None,
                other => Some((*kind, other.copied())),
            })
            .collect()
    }

    /// At `open`: first every warning the roster has since answered resolves, then each
    /// required certificate of a counting member of staff that is valid today and runs
    /// out within `certificate_warning` of now is raised, once per expiry.
    pub(super) fn certificates_due(&mut self, due: Dt, out: &mut Vec<Transition>) {
        self.certificates_reconciled(due, out);
        if self.m.rules.required_certificates.is_empty() {
            return;
        }
        let date = self.judged_date(due);
        let warning = self.m.rules.certificate_warning;
        for i in 0..self.m.staff.len() {
            if !self.m.staff[i].counts {
                continue;
            }
            for kind in self.m.rules.required_certificates.clone() {
                let Some(expires) = self.m.staff[i].certificates.get(&kind).copied() else {
                    continue;
                };
                if date > expires || self.s.expiring[i].iter().any(|e| e.kind == kind) {
                    continue;
                }
                let end = localtime::day_bounds(self.m.tz, expires).1;
                if due.checked_add_signed(warning).is_none_or(|w| end > w) {
                    continue;
                }
                let id = self.m.staff[i].id.clone();
                let details = CertExpiry {
                    certificate: kind.as_str(),
                    expires: Some(expires.to_string()),
                };
                let alert = self.raise(AlertType::CertificateExpiring, &id, due, &details, out);
                self.s.expiring[i].push(Expiring {
                    kind,
                    expires,
                    alert,
                });
            }
        }
    }

    /// Resolves every `certificate_expiring` the roster has answered: a later expiry for
    /// that certificate (details: the new expiry), or a certificate no longer listed or no
    /// longer required (details `expires: null`). After a reload, and at every `open`.
    pub(super) fn certificates_reconciled(&mut self, now: Dt, out: &mut Vec<Transition>) {
        for i in 0..self.m.staff.len() {
            if self.s.expiring[i].is_empty() {
                continue;
            }
            let id = self.m.staff[i].id.clone();
            let list = std::mem::take(&mut self.s.expiring[i]);
            for e in list {
                let required = self.m.rules.required_certificates.contains(&e.kind);
                let roster = self.m.staff[i].certificates.get(&e.kind).copied();
                let answer = match roster {
                    _ if !required => Some(None),
                    None => Some(None),
                    Some(later) if later > e.expires => Some(Some(later)),
                    Some(_) => None,
                };
                match answer {
                    Some(expires) => {
                        let details = CertExpiry {
                            certificate: e.kind.as_str(),
                            expires: expires.map(|d| d.to_string()),
                        };
                        let ty = AlertType::CertificateExpiring;
                        self.resolve_alert(ty, &id, e.alert, now, &details, out);
                    }
                    None => self.s.expiring[i].push(e),
                }
            }
        }
    }

    /// The first local date after `date` on which a required certificate of a counting
    /// member of staff checked in runs out: a midnight that changes a room's figures.
    pub(super) fn next_certificate_change(&self, date: NaiveDate) -> Option<NaiveDate> {
        let required = &self.m.rules.required_certificates;
        self.m
            .staff
            .iter()
            .zip(&self.s.staff_room)
            .filter(|(st, room)| room.is_some() && st.counts)
            .flat_map(|(st, _)| {
                required
                    .iter()
                    .filter_map(|k| st.certificates.get(k).and_then(|e| e.succ_opt()))
            })
            .filter(|d| *d > date)
            .min()
    }

    /// Every member of staff checked in, in roster order: where, and whether they count.
    pub fn staff_figures(&mut self) -> Vec<StaffFigures> {
        let now = self.s.clock.unwrap_or_else(chrono::Utc::now);
        let date = self.judged_date(now);
        (0..self.m.staff.len())
            .filter_map(|i| {
                let room = self.s.staff_room[i]?;
                let mut not_counted = Vec::new();
                if !self.m.staff[i].counts {
                    not_counted.push(NotCounted::Role);
                }
                match self.s.presence[i] {
                    PresenceState::OnDuty => {}
                    PresenceState::Break => not_counted.push(NotCounted::Break),
                    PresenceState::OtherWork => not_counted.push(NotCounted::OtherWork),
                }
                for (certificate, expires) in self.lacking(i, date) {
                    not_counted.push(match expires {
                        Some(expires) => NotCounted::CertificateExpired {
                            certificate,
                            expires,
                        },
                        None => NotCounted::CertificateMissing { certificate },
                    });
                }
                Some(StaffFigures {
                    staff: self.m.staff[i].id.clone(),
                    room: self.m.rooms[room].id.clone(),
                    presence: self.s.presence[i],
                    counted: not_counted.is_empty(),
                    not_counted,
                })
            })
            .collect()
    }
}
