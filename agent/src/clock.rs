//! The daemon's clock: the wall clock, or an accelerated simulated clock for the demo.
//! The rules never read it; the daemon passes its readings in.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    Wall,
    /// Simulated time that runs `speed` times faster than real time from `origin`.
    Simulated {
        origin_real: Instant,
        origin: DateTime<Utc>,
        speed: f64,
    },
}

impl Clock {
    pub fn simulated(origin: DateTime<Utc>, speed: f64) -> Clock {
        Clock::Simulated {
            origin_real: Instant::now(),
            origin,
            speed,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::Wall => Utc::now(),
            Clock::Simulated {
                origin_real,
                origin,
                speed,
            } => {
                let real = origin_real.elapsed().as_secs_f64() * speed;
                origin + chrono::Duration::microseconds((real * 1e6) as i64)
            }
        }
    }

    /// How long to wait in real time until the clock reads `t` (zero if it already has).
    pub fn real_until(&self, t: DateTime<Utc>) -> Duration {
        let ahead = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        match *self {
            Clock::Wall => ahead,
            Clock::Simulated { speed, .. } => ahead.div_f64(speed.max(1e-9)),
        }
    }
}
