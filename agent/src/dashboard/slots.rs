//! Who may hold one of the live stream's slots (`/api/stream`).
//!
//! Each open stream costs a task, a channel and a socket, so there are [`MAX_STREAMS`]
//! at most. Issue 11.9: 500 anonymous connections took all 64 and a staff tablet got 503.
//! Now anonymous streams (the `/wall` display, a page before login) share at most
//! [`ANONYMOUS_STREAMS`] slots, and [`STREAMS_PER_ADDRESS`] per client address; logged-in
//! staff may use any slot up to the total, at most [`STREAMS_PER_STAFF`] each. So staff
//! always have `MAX_STREAMS - ANONYMOUS_STREAMS` slots that no anonymous client can take,
//! and no one staff member (or stolen session) can take them all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Live streams open at once, everyone together.
pub const MAX_STREAMS: usize = 64;
/// Of which anonymous clients may hold at most this many.
pub const ANONYMOUS_STREAMS: usize = 48;
/// Anonymous streams from one address at once (a wall display, a phone or two).
pub const STREAMS_PER_ADDRESS: usize = 8;
/// Streams of one logged-in staff member at once (a phone and a tablet, and a spare).
pub const STREAMS_PER_STAFF: usize = 4;

/// Who holds a slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    Anonymous(IpAddr),
    Staff(String),
}

#[derive(Default)]
struct Counts {
    total: usize,
    anonymous: usize,
    by_holder: HashMap<Holder, usize>,
}

/// The slots, shared by every stream.
#[derive(Clone, Default)]
pub struct Slots {
    counts: Arc<Mutex<Counts>>,
}

/// One held slot; dropping it frees it.
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    holder: Holder,
}

impl Slots {
    /// A slot for `holder`, or why there is none (for the 503's message).
    pub fn take(&self, holder: Holder) -> Result<Slot, &'static str> {
        let mut c = lock(&self.counts);
        let mine = c.by_holder.get(&holder).copied().unwrap_or(0);
        match &holder {
            Holder::Anonymous(_) if mine >= STREAMS_PER_ADDRESS => {
                return Err("too many live pages open from this device; close one and reload")
            }
            Holder::Anonymous(_) if c.anonymous >= ANONYMOUS_STREAMS => {
                return Err("too many live pages open; log in, or close one and reload")
            }
            Holder::Staff(_) if mine >= STREAMS_PER_STAFF => {
                return Err("too many live pages open for this staff member; close one and reload")
            }
            _ if c.total >= MAX_STREAMS => {
                return Err("too many live pages open; close one and reload")
            }
            _ => {}
        }
        c.total += 1;
        if matches!(holder, Holder::Anonymous(_)) {
            c.anonymous += 1;
        }
        *c.by_holder.entry(holder.clone()).or_default() += 1;
        Ok(Slot {
            counts: self.counts.clone(),
            holder,
        })
    }

    /// Slots held: (all, anonymous).
    pub fn held(&self) -> (usize, usize) {
        let c = lock(&self.counts);
        (c.total, c.anonymous)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        c.total = c.total.saturating_sub(1);
        if matches!(self.holder, Holder::Anonymous(_)) {
            c.anonymous = c.anonymous.saturating_sub(1);
        }
        if let Some(n) = c.by_holder.get_mut(&self.holder) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_holder.remove(&self.holder);
            }
        }
    }
}

fn lock(m: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    // Counters only: a panic elsewhere cannot leave them half updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(n: u32) -> Holder {
        Holder::Anonymous(IpAddr::from((0x7f00_0000u32 + n).to_be_bytes()))
    }

    #[test]
    fn anonymous_clients_cannot_take_the_slots_kept_for_staff() {
        let slots = Slots::default();
        let held: Vec<Slot> = (0..500)
            .filter_map(|i| slots.take(anon(i / 2)).ok())
            .collect();
        assert_eq!(held.len(), ANONYMOUS_STREAMS);
        let staff: Vec<Slot> = (0..4)
            .flat_map(|s| (0..4).map(move |_| Holder::Staff(format!("s-{s}"))))
            .filter_map(|h| slots.take(h).ok())
            .collect();
        assert_eq!(staff.len(), MAX_STREAMS - ANONYMOUS_STREAMS);
        assert_eq!(slots.held(), (MAX_STREAMS, ANONYMOUS_STREAMS));
        assert!(slots.take(Holder::Staff("s-9".into())).is_err(), "full");
        drop(held);
        assert_eq!(slots.held(), (MAX_STREAMS - ANONYMOUS_STREAMS, 0));
    }

    #[test]
    fn one_address_and_one_staff_member_have_their_own_caps() {
        let slots = Slots::default();
        let mine: Vec<Slot> = (0..20).filter_map(|_| slots.take(anon(1)).ok()).collect();
        assert_eq!(mine.len(), STREAMS_PER_ADDRESS);
        assert!(slots.take(anon(2)).is_ok());
        let s: Vec<Slot> = (0..9)
            .filter_map(|_| slots.take(Holder::Staff("s-01".into())).ok())
            .collect();
        assert_eq!(s.len(), STREAMS_PER_STAFF);
        drop(mine);
        assert!(slots.take(anon(1)).is_ok(), "freed on drop");
    }
}
