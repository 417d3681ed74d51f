//! Local wall time → instant: the one place that decides what a local time means when the
//! clocks change.
//!
//! A facility's times (`open`, `close`, midnight, a simulated day's schedule) are local
//! wall times in its IANA zone. Most map to exactly one instant, but not all:
//!
//! - **A fold** (the clocks go back): the wall time happens twice. It means the **earlier**
//!   instant — a timer set for 01:30 fires the first time the wall clock shows 01:30.
//! - **A gap** (the clocks go forward): the wall time never happens — 02:30 on a spring
//!   morning in Europe, 02:15 on Lord Howe Island (a 30-minute shift), or the whole of
//!   2011-12-30 in Pacific/Apia, the day Samoa skipped. It means **the instant the gap ends**,
//!   the first moment whose wall time is later than it: the moment a wall clock would have
//!   shown that time had it not jumped past it. Every wall time in one gap maps to the same
//!   instant, so the mapping never runs backwards.
//!
//! None of these functions panics, whatever the date: at the edges of what chrono can
//! represent they saturate instead.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The longest gap the time-zone database holds is Samoa's skipped day (24 h); this bounds
/// the search for the end of a gap with room to spare.
const LONGEST_GAP: Duration = Duration::hours(48);

/// The instant at which the wall clock in `tz` shows `local` (see the module documentation
/// for folds and gaps).
pub fn instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        chrono::LocalResult::None => gap_end(tz, local),
    }
}

/// The instant of `time` on the local `date` in `tz`.
pub fn at(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    instant(tz, date.and_time(time))
}

/// The local date of instant `t` in `tz` (saturating at the ends of chrono's range).
pub fn date_of(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    wall(tz, t).map_or(
        if t.timestamp() < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        },
        |w| w.date(),
    )
}

/// The wall time in `tz` at instant `t`; `None` only when it falls outside chrono's range
/// (where `DateTime::naive_local` would panic).
pub fn wall(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    use chrono::Offset;
    let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc()
        .checked_add_signed(Duration::seconds(i64::from(offset.local_minus_utc())))
}

/// Where the local `date` begins and ends in `tz`, end exclusive: 24 hours on most days,
/// 23 or 25 when the clocks change, none at all for a day a zone skipped (then both are
/// the same instant).
pub fn day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = at(tz, date, NaiveTime::MIN);
    let end = match date.succ_opt() {
        Some(next) => at(tz, next, NaiveTime::MIN),
        None => DateTime::<Utc>::MAX_UTC,
    };
    (start, end.max(start))
}

/// The first instant after `t` (or at it, when `inclusive`) that is `time` + `offset` on
/// some local date — the next opening, the next close plus the pick-up grace, the next
/// midnight. `None` only past the last date chrono can represent.
pub fn next_at(
    tz: Tz,
    t: DateTime<Utc>,
    time: NaiveTime,
    offset: Duration,
    inclusive: bool,
) -> Option<DateTime<Utc>> {
    next_on(tz, t, time, offset, inclusive, |_| true)
}

/// Like [`next_at`], for what happens once on each local date (the end-of-day pick-up
/// check, midnight): a date the zone skipped altogether — 2011-12-30 in Pacific/Apia — had
/// no `time`, so it has no occurrence, where `next_at` would give the end of its gap.
pub fn next_daily(
    tz: Tz,
    t: DateTime<Utc>,
    time: NaiveTime,
    offset: Duration,
    inclusive: bool,
) -> Option<DateTime<Utc>> {
    next_on(tz, t, time, offset, inclusive, |date| happened(tz, date))
}

/// Whether the local `date` lasted any time at all in `tz` (false only for a skipped day).
pub fn happened(tz: Tz, date: NaiveDate) -> bool {
    let (start, end) = day_bounds(tz, date);
    start < end
}

/// The first `time` + `offset` after `t` (or at it) on a local date that `counts`.
fn next_on(
    tz: Tz,
    t: DateTime<Utc>,
    time: NaiveTime,
    offset: Duration,
    inclusive: bool,
    counts: impl Fn(NaiveDate) -> bool,
) -> Option<DateTime<Utc>> {
    // Start a day early: with a large offset or a zone far from UTC, yesterday's time may
    // still be ahead. Every candidate is later than the one before, so a few steps do.
    let mut date = date_of(tz, t).pred_opt().unwrap_or(NaiveDate::MIN);
    loop {
        if counts(date) {
            let candidate = at(tz, date, time).checked_add_signed(offset)?;
            if candidate > t || (inclusive && candidate == t) {
                return Some(candidate);
            }
        }
        date = date.succ_opt()?;
    }
}

/// The instant a gap that contains the wall time `local` ends: the first instant whose wall
/// time is later than `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // The instant lies within two days of `local` read as UTC (offsets stay within ±48 h).
    // Bisect, in whole seconds (every transition in the database falls on one), for the
    // first second whose wall time has passed `local`.
    let as_utc = Utc.from_utc_datetime(&local);
    let after = |secs: i64| -> bool {
        DateTime::<Utc>::from_timestamp(secs, 0)
            .and_then(|u| wall(tz, u))
            .is_none_or(|w| w > local)
    };
    let centre = as_utc.timestamp();
    let span = LONGEST_GAP.num_seconds();
    let (mut lo, mut hi) = (centre.saturating_sub(span), centre.saturating_add(span));
    // Invariant: `lo` is before the gap, `hi` after it; otherwise fall back rather than guess.
    if after(lo) || !after(hi) {
        return as_utc;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if after(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // A fold within two days of the gap could mislead the bisection: make sure the answer
    // is the gap's edge.
    match DateTime::<Utc>::from_timestamp(hi, 0) {
        Some(end) if after(hi) && !after(hi - 1) => end,
        _ => as_utc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Offset;

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_ordinary_local_time_is_its_one_instant() {
        let t = instant(tz("Asia/Shanghai"), local("2026-03-02 07:30"));
        assert_eq!(t, utc("2026-03-01T23:30:00Z"));
    }

    #[test]
    fn a_time_in_the_spring_gap_means_the_moment_the_gap_ends() {
        // London springs forward at 01:00 GMT on 2026-03-29: 01:00–02:00 never happens.
        let london = tz("Europe/London");
        assert_eq!(
            instant(london, local("2026-03-29 01:30")),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            instant(london, local("2026-03-29 02:00")),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn a_time_in_the_autumn_fold_means_the_earlier_instant() {
        // London falls back at 01:00 GMT on 2026-10-25: 01:00–02:00 happens twice.
        let t = instant(tz("Europe/London"), local("2026-10-25 01:30"));
        assert_eq!(t, utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn the_whole_day_samoa_skipped_maps_to_the_end_of_the_gap() {
        // Apia went from UTC-10 to UTC+14 at the end of 2011-12-29: 2011-12-30 never happened.
        let apia = tz("Pacific/Apia");
        let end = utc("2011-12-30T10:00:00Z");
        for t in ["2011-12-30 00:00", "2011-12-30 07:30", "2011-12-30 23:59"] {
            assert_eq!(instant(apia, local(t)), end, "{t}");
        }
        assert_eq!(instant(apia, local("2011-12-31 00:00")), end);
        let (start, stop) = day_bounds(apia, NaiveDate::from_ymd_opt(2011, 12, 30).unwrap());
        assert_eq!((start, stop), (end, end), "a skipped day lasts no time");
        let (s29, e29) = day_bounds(apia, NaiveDate::from_ymd_opt(2011, 12, 29).unwrap());
        assert_eq!(e29 - s29, Duration::hours(24));
    }

    #[test]
    fn lord_howe_shifts_by_half_an_hour() {
        // Lord Howe springs from +10:30 to +11:00 at 02:00 local on 2026-10-04.
        let lh = tz("Australia/Lord_Howe");
        assert_eq!(
            instant(lh, local("2026-10-04 02:15")),
            utc("2026-10-03T15:30:00Z")
        );
        // And back from +11:00 to +10:30 at 02:00 on 2026-04-05: 01:30–02:00 twice.
        assert_eq!(
            instant(lh, local("2026-04-05 01:45")),
            utc("2026-04-04T14:45:00Z")
        );
        let (s, e) = day_bounds(lh, NaiveDate::from_ymd_opt(2026, 10, 4).unwrap());
        assert_eq!(e - s, Duration::minutes(23 * 60 + 30));
    }

    #[test]
    fn a_midnight_that_never_happened_in_sao_paulo_starts_the_day_at_one() {
        // Until 2019 Brazil sprang forward at 00:00: 2018-11-04 began at 01:00 (-02:00).
        let sp = tz("America/Sao_Paulo");
        let day = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        let (start, end) = day_bounds(sp, day);
        assert_eq!(start, utc("2018-11-04T03:00:00Z"));
        assert_eq!(end - start, Duration::hours(23));
        let next = next_at(
            sp,
            utc("2018-11-04T00:00:00Z"),
            NaiveTime::MIN,
            Duration::zero(),
            false,
        );
        assert_eq!(next, Some(start));
    }

    #[test]
    fn next_at_finds_the_next_occurrence_and_honours_inclusive() {
        let sh = tz("Asia/Shanghai");
        let close = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        let grace = Duration::minutes(15);
        let due = utc("2026-03-02T10:15:00Z");
        assert_eq!(
            next_at(sh, utc("2026-03-02T01:00:00Z"), close, grace, false),
            Some(due)
        );
        assert_eq!(next_at(sh, due, close, grace, true), Some(due));
        assert_eq!(
            next_at(sh, due, close, grace, false),
            Some(due + Duration::days(1))
        );
    }

    #[test]
    fn a_daily_time_skips_the_day_samoa_skipped_and_next_at_does_not() {
        let apia = tz("Pacific/Apia");
        let close = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        let grace = Duration::minutes(15);
        // 2011-12-29 18:15 at UTC-10, then 2011-12-31 18:15 at UTC+14.
        let on_29th = utc("2011-12-30T04:15:00Z");
        let on_31st = utc("2011-12-31T04:15:00Z");
        assert_eq!(
            next_daily(apia, on_29th, close, grace, false),
            Some(on_31st)
        );
        assert_eq!(
            next_at(apia, on_29th, close, grace, false),
            Some(utc("2011-12-30T10:15:00Z")),
            "next_at reads the 30th's close as the end of the gap"
        );
        assert!(!happened(
            apia,
            NaiveDate::from_ymd_opt(2011, 12, 30).unwrap()
        ));
        assert!(happened(
            apia,
            NaiveDate::from_ymd_opt(2011, 12, 31).unwrap()
        ));
        // Midnight of the skipped 30th and of the 31st are one instant: one midnight.
        let midnight = next_daily(apia, on_29th, NaiveTime::MIN, Duration::zero(), false);
        assert_eq!(midnight, Some(utc("2011-12-30T10:00:00Z")));
        let after = next_daily(
            apia,
            midnight.unwrap(),
            NaiveTime::MIN,
            Duration::zero(),
            false,
        );
        assert_eq!(after, Some(utc("2011-12-31T10:00:00Z")));
    }

    #[test]
    fn no_date_chrono_can_hold_makes_it_panic() {
        for name in [
            "Pacific/Apia",
            "Antarctica/Troll",
            "America/Sao_Paulo",
            "UTC",
        ] {
            let z = tz(name);
            for d in [NaiveDate::MIN, NaiveDate::MAX] {
                let _ = day_bounds(z, d);
                let _ = at(z, d, NaiveTime::MIN);
                let _ = next_at(
                    z,
                    DateTime::<Utc>::MAX_UTC,
                    NaiveTime::MIN,
                    Duration::days(1),
                    false,
                );
                let _ = next_at(
                    z,
                    DateTime::<Utc>::MIN_UTC,
                    NaiveTime::MIN,
                    Duration::zero(),
                    true,
                );
                let _ = next_daily(
                    z,
                    DateTime::<Utc>::MAX_UTC,
                    NaiveTime::MIN,
                    Duration::days(1),
                    false,
                );
                let _ = next_daily(
                    z,
                    DateTime::<Utc>::MIN_UTC,
                    NaiveTime::MIN,
                    Duration::zero(),
                    true,
                );
                let _ = happened(z, d);
            }
        }
    }

    #[test]
    fn every_zone_maps_every_quarter_hour_of_its_transition_days_monotonically() {
        // Around every offset change from 2000 to 2030 in every zone: later wall times never
        // map to earlier instants, and a wall time that exists maps to itself.
        for z in chrono_tz::TZ_VARIANTS {
            let mut day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
            let last = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
            let mut prev_offset = z.offset_from_utc_date(&day).fix();
            while day < last {
                let next = day + Duration::days(1);
                let offset = z.offset_from_utc_date(&next).fix();
                if offset != prev_offset {
                    let mut before = instant(z, day.and_time(NaiveTime::MIN));
                    for q in 1..(3 * 96) {
                        let wall = day.and_time(NaiveTime::MIN) + Duration::minutes(15 * q);
                        let t = instant(z, wall);
                        assert!(t >= before, "{z}: {wall} maps before the time before it");
                        if let Some(x) = z.from_local_datetime(&wall).earliest() {
                            assert_eq!(t, x.with_timezone(&Utc), "{z}: {wall}");
                        } else {
                            assert!(t.with_timezone(&z).naive_local() > wall, "{z}: {wall}");
                        }
                        before = t;
                    }
                }
                prev_offset = offset;
                day = next;
            }
        }
    }
}
