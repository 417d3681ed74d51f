//! Readings: one a minute from every sensor, with the hot afternoon and the silent sensor
//! planted in them.

use rand::Rng;

use super::plan::{minutes_ceil, pick, secs, Minute, Planner, Secs};
use super::IncidentKind;
use crate::config::TemperatureRule;
use crate::event::EventKind;

/// Minutes of the hot afternoon's rise to just under the limit.
const RAMP: usize = 10;
/// Minutes of its drop below the hysteresis when the air conditioning comes on.
const COOL: usize = 15;

/// What the day's readings look like before any is drawn.
struct Weather {
    t: TemperatureRule,
    /// Ordinary temperature and humidity, inside the alert limits with their hysteresis.
    t_band: (f64, f64),
    h_band: (f64, f64),
    /// Minutes above the limit (the sustain and then some).
    hold: usize,
    /// The sensor that overheats and the minute its rise starts.
    hot: Option<(usize, Minute)>,
    /// Minutes the silent sensor sends nothing.
    gap: usize,
    /// The sensor that goes quiet and the minute it does.
    silent: Option<(usize, Minute)>,
    /// Seconds between two readings of one sensor.
    period: Secs,
}

/// When a sensor's incidents start and end, as its readings are written.
#[derive(Default)]
struct Marks {
    first_hot: Option<Secs>,
    first_cool: Option<Secs>,
    last_before: Option<Secs>,
    resumed: Option<Secs>,
}

/// `lo..hi`, kept inside `min..max` by the hysteresis `margin` and half a unit more.
fn band(lo: f64, hi: f64, min: f64, max: f64, margin: f64) -> (f64, f64) {
    let (a, b) = (lo.max(min + margin + 0.5), hi.min(max - margin - 0.5));
    if a <= b {
        (a, b)
    } else {
        let mid = (min + max) / 2.0;
        (mid, mid)
    }
}

impl Planner<'_> {
    /// One reading a minute from every sensor: a room between 22 and 26 °C that warms
    /// slowly towards the afternoon, humidity between 40 and 60 %; one room overheats in
    /// the afternoon, one sensor goes quiet for a while.
    pub(super) fn emit_readings(&mut self) {
        if self.cfg.sensors.is_empty() {
            return;
        }
        let weather = self.weather();
        for s in 0..self.cfg.sensors.len() {
            let (mut temp, hum) = self.series(&weather);
            self.overheat(&weather, s, &mut temp);
            self.emit_sensor(&weather, s, &temp, &hum);
        }
    }

    /// The bands, the hot afternoon and the silent sensor (in this order of draws).
    fn weather(&mut self) -> Weather {
        let sensors = self.cfg.sensors.len();
        let n = self.n;
        let t = self.cfg.rules.temperature.clone();
        let h = &self.cfg.rules.humidity;
        let t_band = band(22.0, 26.0, t.min_c, t.max_c, t.hysteresis_c);
        let h_band = band(40.0, 60.0, h.min_pct, h.max_pct, h.hysteresis_pct);

        let hold = minutes_ceil(t.sustain) + pick(&mut self.rng, 5, 15);
        let hot_len = RAMP + hold + COOL;
        let lo = (self.open + self.span() * 55 / 100).max(self.at_clock(13, 0));
        let hi = self.close.saturating_sub(hot_len + 10);
        let hot = (self.span() >= 180 && hi >= lo && lo + hot_len < n).then(|| {
            (
                pick(&mut self.rng, 0, sensors - 1),
                pick(&mut self.rng, lo, hi),
            )
        });

        // The silent sensor, in the morning.
        let gap = minutes_ceil(self.cfg.rules.sensor_stale_after) + pick(&mut self.rng, 3, 8);
        let lo = self.open + 90;
        let hi = (self.open + 240).min(n.saturating_sub(gap + 20));
        let mut silent = (self.span() >= 180 && hi >= lo).then(|| {
            let s = match hot {
                Some((hs, _)) if sensors >= 2 => {
                    (hs + pick(&mut self.rng, 1, sensors - 1)) % sensors
                }
                _ => pick(&mut self.rng, 0, sensors - 1),
            };
            (s, pick(&mut self.rng, lo, hi))
        });
        if let (Some((hs, h0)), Some((ss, s0))) = (hot, silent) {
            if hs == ss && s0 + gap + 2 >= h0 {
                silent = None;
            }
        }
        let period = (secs(self.cfg.rules.sensor_stale_after) / 3).clamp(1, 60);
        Weather {
            t,
            t_band,
            h_band,
            hold,
            hot,
            gap,
            silent,
            period,
        }
    }

    /// Per-minute temperature and humidity of one sensor: a base value, a slow warming
    /// towards the afternoon and a bounded random walk.
    fn series(&mut self, w: &Weather) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let ((t_lo, t_hi), (h_lo, h_hi)) = (w.t_band, w.h_band);
        let base_t = self.rng.gen_range(t_lo..=t_hi);
        let base_h = self.rng.gen_range(h_lo..=h_hi);
        let (mut walk_t, mut walk_h) = (0.0f64, 0.0f64);
        let mut temp = Vec::with_capacity(n);
        let mut hum = Vec::with_capacity(n);
        for m in 0..n {
            walk_t = (walk_t + self.rng.gen_range(-0.08..=0.08)).clamp(-0.6, 0.6);
            walk_h = (walk_h + self.rng.gen_range(-0.4..=0.4)).clamp(-4.0, 4.0);
            let day = (std::f64::consts::PI * m as f64 / n as f64).sin();
            temp.push((base_t - 0.6 + 1.2 * day + walk_t).clamp(t_lo, t_hi));
            hum.push((base_h + 2.0 * day + walk_h).clamp(h_lo, h_hi));
        }
        (temp, hum)
    }

    /// The hot afternoon, written into the overheating sensor's temperatures.
    fn overheat(&mut self, w: &Weather, s: usize, temp: &mut [f64]) {
        let Some((hs, h0)) = w.hot else { return };
        if hs != s {
            return;
        }
        let (t, hold) = (&w.t, w.hold);
        let start = temp[h0];
        let top = t.max_c - 0.3;
        for i in 0..RAMP {
            temp[h0 + i] = start + (top - start) * (i as f64 / RAMP as f64);
        }
        for i in 0..hold {
            temp[h0 + RAMP + i] = t.max_c + 0.5 + self.rng.gen_range(0.0..=1.3);
        }
        let from = t.max_c - t.hysteresis_c - 0.4;
        for i in 0..COOL {
            let m = h0 + RAMP + hold + i;
            let k = i as f64 / COOL as f64;
            temp[m] = from + (temp[m].min(from) - from) * k;
        }
    }

    /// Writes one sensor's readings, every `period` seconds except while it is silent, and
    /// the incidents they carry.
    fn emit_sensor(&mut self, w: &Weather, s: usize, temp: &[f64], hum: &[f64]) {
        let id = self.cfg.sensors[s].id.clone();
        let mut marks = Marks::default();
        let mut at = (3 + 7 * s as Secs) % w.period.max(1);
        while at < self.n as Secs * 60 {
            let m = (at / 60) as usize;
            let quiet = w
                .silent
                .is_some_and(|(ss, s0)| ss == s && (s0..s0 + w.gap).contains(&m));
            if !quiet {
                let c = (temp[m] * 10.0).round() / 10.0;
                let rh = (hum[m] * 10.0).round() / 10.0;
                self.push(
                    at,
                    EventKind::Reading {
                        sensor: id.clone(),
                        celsius: Some(c),
                        humidity: Some(rh),
                    },
                );
                marks.note(w, s, m, at, c);
            }
            at += w.period;
        }
        if let Some(at) = marks.first_hot {
            self.incidents
                .push((IncidentKind::HotRoom, id.clone(), at, marks.first_cool));
        }
        if let Some(at) = marks.last_before {
            self.incidents
                .push((IncidentKind::SensorSilent, id, at, marks.resumed));
        }
    }
}

impl Marks {
    /// Notes reading `c` of sensor `s` at second `at` (minute `m`).
    fn note(&mut self, w: &Weather, s: usize, m: Minute, at: Secs, c: f64) {
        if let Some((hs, h0)) = w.hot {
            if hs == s && c > w.t.max_c && self.first_hot.is_none() {
                self.first_hot = Some(at);
            }
            if hs == s && m >= h0 + RAMP + w.hold && self.first_cool.is_none() {
                self.first_cool = Some(at);
            }
        }
        if let Some((ss, s0)) = w.silent {
            if ss == s && m < s0 {
                self.last_before = Some(at);
            }
            if ss == s && m >= s0 + w.gap && self.resumed.is_none() {
                self.resumed = Some(at);
            }
        }
    }
}
