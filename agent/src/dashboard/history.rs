//! Today on the staff page: the alert timeline, read from the journal, and each room's
//! ratio over the day, sampled from the live view into a bounded ring.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::journal::JournalReader;
use crate::live::{Live, LiveView};

/// One sample per minute of the rules' clock: a whole day, and then some.
const MAX_SAMPLES: usize = 26 * 60;
/// At most this many transitions of one day go to the page.
pub const MAX_TRANSITIONS: usize = 2000;

/// One room at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct RoomSample {
    pub room: String,
    pub children: u32,
    pub staff: u32,
    pub required: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t: DateTime<FixedOffset>,
    pub rooms: Vec<RoomSample>,
}

/// The ratio samples, newest last.
#[derive(Default, Clone)]
pub struct Ratios {
    inner: Arc<Mutex<VecDeque<Sample>>>,
}

impl Ratios {
    /// Samples of the local day of the latest sample.
    pub fn today(&self) -> Vec<Sample> {
        let ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(last) = ring.back() else {
            return Vec::new();
        };
        let day = last.t.date_naive();
        ring.iter()
            .filter(|s| s.t.date_naive() == day)
            .cloned()
            .collect()
    }

    /// Takes a sample of `view` if a minute of the rules' time has passed since the last
    /// one or a room's figures changed.
    fn offer(&self, view: &LiveView) {
        let Some(t) = view.clock else { return };
        let rooms: Vec<RoomSample> = view
            .rooms
            .iter()
            .map(|r| RoomSample {
                room: r.room.clone(),
                children: r.children,
                staff: r.counted_staff,
                required: r.required,
            })
            .collect();
        let mut ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = ring.back() {
            let same = last.rooms.iter().zip(&rooms).all(|(a, b)| {
                (a.children, a.staff, a.required) == (b.children, b.staff, b.required)
            });
            if t < last.t || (same && t - last.t < chrono::Duration::seconds(60)) {
                return;
            }
        }
        if ring.len() >= MAX_SAMPLES {
            ring.pop_front();
        }
        ring.push_back(Sample { t, rooms });
    }
}

/// Samples every published view until `shutdown`.
pub async fn sample(live: Live, ratios: Ratios, shutdown: CancellationToken) {
    let mut watch = live.watch();
    loop {
        let view = watch.borrow_and_update().clone();
        ratios.offer(&view);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = watch.changed() => if changed.is_err() { return },
        }
    }
}

/// The transitions journalled since the local midnight of `clock`, oldest first.
/// Blocking: run it on the blocking pool.
pub fn transitions_of_day(
    dir: PathBuf,
    tz: Tz,
    clock: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    let journal = JournalReader::open(&dir, std::time::Duration::from_secs(2))
        .map_err(|e| format!("journal: {e}"))?;
    let local = clock.with_timezone(&tz).date_naive();
    let midnight = tz
        .from_local_datetime(&local.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or(clock, |t| t.with_timezone(&Utc));
    let lines = journal
        .transitions_since(midnight, MAX_TRANSITIONS)
        .map_err(|e| format!("journal: {e}"))?;
    Ok(lines
        .iter()
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .collect())
}
