//! The simulated nursery day (being written).

use chrono::NaiveDate;

use crate::config::Config;
use crate::event::Event;

/// Generates one simulated day for the roster in `cfg`, in time order.
pub fn simulate_day(_cfg: &Config, _seed: u64, _date: NaiveDate) -> Vec<Event> {
    unimplemented!("simulator under construction")
}
