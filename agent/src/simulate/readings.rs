//! Readings: one a minute from every sensor, with the hot afternoon and the silent sensor
//! planted in them.

use rand::Rng;

use super::plan::{minutes_ceil, pick, secs, Planner, Secs};
use super::IncidentKind;
use crate::event::EventKind;

impl Planner<'_> {
    /// One reading a minute from every sensor: a room between 22 and 26 °C that warms
    /// slowly towards the afternoon, humidity between 40 and 60 %; one room overheats in
    /// the afternoon, one sensor goes quiet for a while.
    pub(super) fn emit_readings(&mut self) {
        let sensors = self.cfg.sensors.len();
        if sensors == 0 {
            return;
        }
        let n = self.n;
        let t = self.cfg.rules.temperature.clone();
        let h = self.cfg.rules.humidity.clone();
        let band = |lo: f64, hi: f64, min: f64, max: f64, margin: f64| {
            let (a, b) = (lo.max(min + margin + 0.5), hi.min(max - margin - 0.5));
            if a <= b {
                (a, b)
            } else {
                let mid = (min + max) / 2.0;
                (mid, mid)
            }
        };
        let (t_lo, t_hi) = band(22.0, 26.0, t.min_c, t.max_c, t.hysteresis_c);
        let (h_lo, h_hi) = band(40.0, 60.0, h.min_pct, h.max_pct, h.hysteresis_pct);

        // The hot afternoon: a 10-minute rise to just under the limit, above it for the
        // sustain and then some, and a drop below the hysteresis when the air conditioning
        // comes on.
        let ramp = 10;
        let hold = minutes_ceil(t.sustain) + pick(&mut self.rng, 5, 15);
        let cool = 15;
        let hot_len = ramp + hold + cool;
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
        for s in 0..sensors {
            let id = self.cfg.sensors[s].id.clone();
            let offset = (3 + 7 * s as Secs) % period.max(1);
            // Per-minute values first.
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
            if let Some((hs, h0)) = hot {
                if hs == s {
                    let start = temp[h0];
                    let top = t.max_c - 0.3;
                    for i in 0..ramp {
                        temp[h0 + i] = start + (top - start) * (i as f64 / ramp as f64);
                    }
                    for i in 0..hold {
                        temp[h0 + ramp + i] = t.max_c + 0.5 + self.rng.gen_range(0.0..=1.3);
                    }
                    let from = t.max_c - t.hysteresis_c - 0.4;
                    for i in 0..cool {
                        let m = h0 + ramp + hold + i;
                        let k = i as f64 / cool as f64;
                        temp[m] = from + (temp[m].min(from) - from) * k;
                    }
                }
            }
            let mut first_hot = None;
            let mut first_cool = None;
            let mut last_before = None;
            let mut resumed = None;
            let mut at = offset;
            while at < n as Secs * 60 {
                let m = (at / 60) as usize;
                let quiet = silent.is_some_and(|(ss, s0)| ss == s && (s0..s0 + gap).contains(&m));
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
                    if let Some((hs, h0)) = hot {
                        if hs == s && c > t.max_c && first_hot.is_none() {
                            first_hot = Some(at);
                        }
                        if hs == s && m >= h0 + ramp + hold && first_cool.is_none() {
                            first_cool = Some(at);
                        }
                    }
                    if let Some((ss, s0)) = silent {
                        if ss == s && m < s0 {
                            last_before = Some(at);
                        }
                        if ss == s && m >= s0 + gap && resumed.is_none() {
                            resumed = Some(at);
                        }
                    }
                }
                at += period;
            }
            if let Some(at) = first_hot {
                self.incidents
                    .push((IncidentKind::HotRoom, id.clone(), at, first_cool));
            }
            if let Some(at) = last_before {
                self.incidents
                    .push((IncidentKind::SensorSilent, id.clone(), at, resumed));
            }
        }
    }

    // ---- output -----------------------------------------------------------------------
}
