//! Families: who comes with whom, who drops off and picks up, which children a room can
//! take, and the entrance visits and attendance records of their day.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::Rng;

use super::plan::{triangular, Family, Planner, Secs};
use super::IncidentKind;
use crate::event::{AttendanceAction, EventKind};

impl Planner<'_> {
    pub(super) fn plan_families(&mut self) {
        self.group_families();
        let span = self.span();
        if span < 60 {
            // Too short a day for anyone to come and go.
            return;
        }
        let arrive_lo = self.open.max(15);
        let arrive_hi = arrive_lo + 90.min(span / 4);
        let depart_hi = self.close - 10;
        let depart_lo = depart_hi - 80.min(span / 4);
        for f in &mut self.families {
            f.present = !f.common.is_empty() && !self.rng.gen_bool(0.04);
            f.arrive = triangular(&mut self.rng, arrive_lo, arrive_hi);
            f.depart = triangular(&mut self.rng, depart_lo, depart_hi);
            if let (Some(d), Some(p)) = (
                f.common.choose(&mut self.rng),
                f.common.choose(&mut self.rng),
            ) {
                f.dropper = d.clone();
                f.picker = p.clone();
            }
        }
        self.admit();
        self.plan_stranger_pickup();
        self.compute_need();
    }

    /// Children who share a guardian form one family, provided some guardian is common to
    /// all of them; otherwise each child comes on their own.
    pub(super) fn group_families(&mut self) {
        let children = &self.cfg.children;
        let mut parent: Vec<usize> = (0..self.kids.len()).collect();
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut first_with: HashMap<&str, usize> = HashMap::new();
        for (k, kid) in self.kids.iter().enumerate() {
            for g in &children[kid.cfg].guardians {
                match first_with.get(g.as_str()) {
                    Some(&o) => {
                        let (a, b) = (root(&mut parent, k), root(&mut parent, o));
                        parent[a.max(b)] = a.min(b);
                    }
                    None => {
                        first_with.insert(g, k);
                    }
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for k in 0..self.kids.len() {
            groups.entry(root(&mut parent, k)).or_default().push(k);
        }
        let guardians_of = |k: usize| &children[self.kids[k].cfg].guardians;
        let mut families = Vec::new();
        for kids in groups.into_values() {
            let common: Vec<String> = guardians_of(kids[0])
                .iter()
                .filter(|g| kids.iter().all(|&k| guardians_of(k).contains(g)))
                .cloned()
                .collect();
            let split = if common.is_empty() {
                kids.iter()
                    .map(|&k| (vec![k], guardians_of(k).clone()))
                    .collect()
            } else {
                vec![(kids, common)]
            };
            for (kids, common) in split {
                families.push(Family {
                    kids,
                    common,
                    present: false,
                    arrive: 0,
                    depart: 0,
                    dropper: String::new(),
                    picker: String::new(),
                    stranger: false,
                });
            }
        }
        self.families = families;
    }

    /// A room takes only the children its counted staff can cover and its capacity holds.
    pub(super) fn admit(&mut self) {
        let rooms = self.cfg.rooms.len();
        let bands = self.preset.bands();
        let mut staff = vec![0u32; rooms];
        let date = self.t0.date();
        for s in &self.cfg.staff {
            if let Some(&r) = self.room_ix.get(s.room.as_str()) {
                if super::people::counts_on(self.cfg, s, date) {
                    staff[r] += 1;
                }
            }
        }
        let mut order: Vec<(usize, usize)> = self
            .families
            .iter()
            .enumerate()
            .filter(|(_, f)| f.present)
            .flat_map(|(i, f)| f.kids.iter().map(move |&k| (i, k)))
            .collect();
        order.shuffle(&mut self.rng);
        let mut counts = vec![vec![0u32; bands.len()]; rooms];
        let mut refused = HashSet::new();
        for (_, k) in order {
            let kid = &self.kids[k];
            let r = kid.room;
            counts[r][kid.band] += 1;
            let n: u32 = counts[r].iter().sum();
            // The smallest group size any subset of these children could have.
            let limit = self.cfg.rooms[r].capacity.unwrap_or_else(|| {
                bands
                    .iter()
                    .zip(&counts[r])
                    .filter(|(_, &c)| c > 0)
                    .filter_map(|(b, _)| b.group_size)
                    .min()
                    .unwrap_or(u32::MAX)
            });
            if self.preset.required_staff(&counts[r]) > staff[r] || n > limit {
                counts[r][kid.band] -= 1;
                refused.insert(k);
            }
        }
        for f in &mut self.families {
            f.kids.retain(|k| !refused.contains(k));
            if f.kids.is_empty() {
                f.present = false;
            }
        }
    }

    /// Incident: one family is picked up by a roster guardian who is not theirs.
    pub(super) fn plan_stranger_pickup(&mut self) {
        let present: Vec<usize> = (0..self.families.len())
            .filter(|&i| self.families[i].present)
            .collect();
        let single: Vec<usize> = present
            .iter()
            .copied()
            .filter(|&i| self.families[i].kids.len() == 1)
            .collect();
        let pool = if single.is_empty() { &present } else { &single };
        let Some(&f) = pool.choose(&mut self.rng) else {
            return;
        };
        let theirs: HashSet<&str> = self.families[f]
            .kids
            .iter()
            .flat_map(|&k| self.cfg.children[self.kids[k].cfg].guardians.iter())
            .map(String::as_str)
            .collect();
        let mut others: Vec<&str> = self
            .cfg
            .guardians
            .iter()
            .filter(|g| !theirs.contains(g.id.as_str()))
            .filter(|g| g.card.is_some())
            .map(|g| g.id.as_str())
            .collect();
        if others.is_empty() {
            others = self
                .cfg
                .guardians
                .iter()
                .filter(|g| !theirs.contains(g.id.as_str()))
                .map(|g| g.id.as_str())
                .collect();
        }
        let Some(&by) = others.choose(&mut self.rng) else {
            return;
        };
        let fam = &mut self.families[f];
        fam.picker = by.to_string();
        fam.stranger = true;
    }

    pub(super) fn compute_need(&mut self) {
        let rooms = self.cfg.rooms.len();
        let bands = self.preset.bands().len();
        let mut counts = vec![vec![vec![0u32; bands]; self.n]; rooms];
        for f in self.families.iter().filter(|f| f.present) {
            for &k in &f.kids {
                let kid = &self.kids[k];
                for c in &mut counts[kid.room][f.arrive..=f.depart] {
                    c[kid.band] += 1;
                }
            }
        }
        for (r, per_minute) in counts.iter().enumerate() {
            for (t, c) in per_minute.iter().enumerate() {
                self.need[r][t] = self.preset.required_staff(c);
            }
        }
    }

    pub(super) fn guardian_card(&self, id: &str) -> Option<String> {
        self.cfg
            .guardians
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.card.clone())
    }

    /// Each present family's morning and afternoon, in family order.
    pub(super) fn emit_families(&mut self) {
        for f in 0..self.families.len() {
            let fam = &self.families[f];
            if !fam.present {
                continue;
            }
            let kids: Vec<String> = fam
                .kids
                .iter()
                .map(|&k| self.cfg.children[self.kids[k].cfg].id.clone())
                .collect();
            let (arrive, depart) = (fam.arrive as Secs * 60, fam.depart as Secs * 60);
            let (dropper, picker, stranger) =
                (fam.dropper.clone(), fam.picker.clone(), fam.stranger);
            self.family_morning(&kids, arrive, &dropper);
            self.family_afternoon(&kids, depart, &picker, stranger);
        }
    }

    /// Morning: in through the entrance, the children checked in, out again.
    fn family_morning(&mut self, kids: &[String], arrive: Secs, dropper: &str) {
        let base = self.rng.gen_range(15..=30);
        let card = self.guardian_card(dropper);
        self.pass_entrance(card.as_deref(), Some(arrive + base - 10), None);
        let st = sibling_step(kids.len(), base);
        for (j, kid) in kids.iter().enumerate() {
            let at = arrive + base + st * j as Secs;
            self.push(
                at,
                EventKind::Attendance {
                    person: kid.clone(),
                    action: AttendanceAction::CheckIn,
                    room: None,
                    by: None,
                },
            );
        }
        let after = arrive + 60 + self.rng.gen_range(0..=60);
        self.pass_entrance(None, None, Some(after));
    }

    /// Afternoon: in, the children checked out by the picker, out through the door.
    fn family_afternoon(&mut self, kids: &[String], depart: Secs, picker: &str, stranger: bool) {
        let base = self.rng.gen_range(5..=20);
        let card = self.guardian_card(picker);
        let walk = self.rng.gen_range(60..=120);
        self.pass_entrance(card.as_deref(), Some(depart + base - walk), None);
        let st = sibling_step(kids.len(), base);
        for (j, kid) in kids.iter().enumerate() {
            let at = depart + base + st * j as Secs;
            self.push(
                at,
                EventKind::Attendance {
                    person: kid.clone(),
                    action: AttendanceAction::CheckOut,
                    room: None,
                    by: Some(picker.to_string()),
                },
            );
            if stranger {
                self.incidents
                    .push((IncidentKind::PickupByNonGuardian, kid.clone(), at, None));
            }
        }
        let after = depart + 60 + self.rng.gen_range(0..=60);
        self.pass_entrance(None, None, Some(after));
    }
}

/// Seconds between siblings' records, so that `n` children fit in the minute after `base`.
fn sibling_step(n: usize, base: Secs) -> Secs {
    if n > 1 {
        ((58 - base) / (n as Secs - 1)).min(6)
    } else {
        0
    }
}
