//! Ratio presets (contract section 5): age bands, staff:children ratios and group sizes.
//!
//! Required staff is ⌈Σ n_b / r_b⌉ computed exactly over integers: every ratio's
//! denominator divides the least common multiple of the preset's ratios, so the sum is a
//! single fraction `num / lcm` and the ceiling is integer division rounding up.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use strum::VariantArray;

/// A preset's name is its serde name (`"cn-2019"`), written once in the `rename` below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, VariantArray)]
pub enum Preset {
    /// 托育机构设置标准（试行）, 2019.
    #[serde(rename = "cn-2019")]
    Cn2019,
    /// EYFS statutory framework, 2024.
    #[serde(rename = "uk-eyfs")]
    UkEyfs,
    /// Caring for Our Children 1.1.1.2.
    #[serde(rename = "us-cfoc")]
    UsCfoc,
    /// Education and Care Services National Regulations, reg. 123.
    #[serde(rename = "au-nqf")]
    AuNqf,
    /// 家庭托育点管理办法（试行）, 2023, for 家庭托育点 (home nurseries): one caregiver per
    /// three children of any age, at most five children.
    #[serde(rename = "cn-home-2023")]
    CnHome2023,
}

/// One age band: children aged `[from_months, to_months)` need one staff member per `ratio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub from_months: u32,
    /// `None` = no upper bound.
    pub to_months: Option<u32>,
    pub ratio: u32,
    pub group_size: Option<u32>,
}

const fn band(from: u32, to: Option<u32>, ratio: u32, group: Option<u32>) -> Band {
    Band {
        from_months: from,
        to_months: to,
        ratio,
        group_size: group,
    }
}

const CN_2019: [Band; 3] = [
    band(0, Some(12), 3, Some(10)),
    band(12, Some(24), 5, Some(15)),
    band(24, None, 7, Some(20)),
];
const UK_EYFS: [Band; 3] = [
    band(0, Some(24), 3, None),
    band(24, Some(36), 5, None),
    band(36, None, 8, None),
];
const US_CFOC: [Band; 4] = [
    band(0, Some(12), 3, Some(6)),
    band(12, Some(36), 4, Some(8)),
    band(36, Some(48), 7, Some(14)),
    band(48, None, 8, Some(16)),
];
const CN_HOME_2023: [Band; 1] = [band(0, None, 3, Some(5))];
const AU_NQF: [Band; 3] = [
    band(0, Some(24), 4, None),
    band(24, Some(36), 5, None),
    band(36, None, 11, None),
];

/// cn-2019: a room mixing bands with every child at least 18 months old has group size 18.
const CN_MIXED_MIN_MONTHS: u32 = 18;
const CN_MIXED_GROUP: u32 = 18;

impl Preset {
    /// Every preset, in declaration order.
    pub const ALL: &'static [Preset] = <Preset as VariantArray>::VARIANTS;

    /// The name the configuration uses (`ratio_preset = "cn-2019"`).
    pub fn name(self) -> &'static str {
        crate::names::serde_name(&self)
    }

    pub fn bands(self) -> &'static [Band] {
        match self {
            Preset::Cn2019 => &CN_2019,
            Preset::UkEyfs => &UK_EYFS,
            Preset::UsCfoc => &US_CFOC,
            Preset::AuNqf => &AU_NQF,
            Preset::CnHome2023 => &CN_HOME_2023,
        }
    }

    /// Index of the band a child of `months` completed months belongs to.
    pub fn band_of(self, months: u32) -> usize {
        self.bands()
            .iter()
            .position(|b| months >= b.from_months && b.to_months.is_none_or(|t| months < t))
            .expect("bands cover every age from 0 up")
    }

    /// ⌈Σ n_b / r_b⌉ for children counted per band (`counts[b]` = children in band `b`).
    pub fn required_staff(self, counts: &[u32]) -> u32 {
        let bands = self.bands();
        let lcm = bands
            .iter()
            .fold(1u64, |acc, b| lcm(acc, u64::from(b.ratio)));
        let num: u64 = bands
            .iter()
            .zip(counts)
            .map(|(b, &n)| u64::from(n) * (lcm / u64::from(b.ratio)))
            .sum();
        u32::try_from(num.div_ceil(lcm)).unwrap_or(u32::MAX)
    }

    /// The group size that applies to a room without an explicit capacity, given the
    /// children present: per band counts and the youngest child's age in months.
    /// `None` when the preset sets no group size for the bands present (or the room is empty).
    pub fn group_size(self, counts: &[u32], youngest_months: Option<u32>) -> Option<u32> {
        let bands = self.bands();
        let present: Vec<&Band> = bands
            .iter()
            .zip(counts)
            .filter(|(_, &n)| n > 0)
            .map(|(b, _)| b)
            .collect();
        match present.as_slice() {
            [] => None,
            [single] => single.group_size,
            mixed => {
                if self == Preset::Cn2019
                    && youngest_months.is_some_and(|m| m >= CN_MIXED_MIN_MONTHS)
                {
                    return Some(CN_MIXED_GROUP);
                }
                mixed.iter().filter_map(|b| b.group_size).min()
            }
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    a / gcd(a, b) * b
}

/// Age in completed months on `on` for a child born on `born` (contract section 5: born
/// 2025-03-02 is 11 months old on 2026-03-01 and 12 months on 2026-03-02). A birthday on
/// the 31st counts as reached on the last day of a shorter month. A date before birth is 0.
pub fn completed_months(born: NaiveDate, on: NaiveDate) -> u32 {
    if on <= born {
        return 0;
    }
    let mut months = (on.year() - born.year()) * 12 + (on.month() as i32 - born.month() as i32);
    let last_day_of_on_month = last_day_of_month(on.year(), on.month());
    let anniversary_day = born.day().min(last_day_of_on_month);
    if on.day() < anniversary_day {
        months -= 1;
    }
    months.max(0) as u32
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn every_preset_is_named_as_the_configuration_writes_it() {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["cn-2019", "uk-eyfs", "us-cfoc", "au-nqf", "cn-home-2023"]
        );
        for p in Preset::ALL {
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<Preset>(&json).unwrap(), *p);
        }
    }

    #[test]
    fn a_child_born_on_the_second_turns_twelve_months_on_the_second() {
        assert_eq!(completed_months(d("2025-03-02"), d("2026-03-01")), 11);
        assert_eq!(completed_months(d("2025-03-02"), d("2026-03-02")), 12);
    }

    #[test]
    fn a_birthday_on_the_31st_is_reached_on_the_last_day_of_a_short_month() {
        assert_eq!(completed_months(d("2025-01-31"), d("2025-02-27")), 0);
        assert_eq!(completed_months(d("2025-01-31"), d("2025-02-28")), 1);
        assert_eq!(completed_months(d("2025-01-31"), d("2025-03-30")), 1);
        assert_eq!(completed_months(d("2025-01-31"), d("2025-03-31")), 2);
        assert_eq!(completed_months(d("2024-02-29"), d("2025-02-28")), 12);
    }

    #[test]
    fn a_date_before_birth_is_zero_months() {
        assert_eq!(completed_months(d("2026-03-02"), d("2026-01-01")), 0);
        assert_eq!(completed_months(d("2026-03-02"), d("2026-03-02")), 0);
    }

    #[test]
    fn cn_2019_bands_follow_the_standard() {
        let p = Preset::Cn2019;
        assert_eq!(p.band_of(0), 0);
        assert_eq!(p.band_of(11), 0);
        assert_eq!(p.band_of(12), 1);
        assert_eq!(p.band_of(23), 1);
        assert_eq!(p.band_of(24), 2);
        assert_eq!(p.band_of(200), 2);
    }

    #[test]
    fn required_staff_is_the_exact_ceiling_of_the_sum_of_fractions() {
        let p = Preset::Cn2019;
        assert_eq!(p.required_staff(&[0, 0, 0]), 0);
        assert_eq!(p.required_staff(&[3, 0, 0]), 1);
        assert_eq!(p.required_staff(&[4, 0, 0]), 2);
        assert_eq!(p.required_staff(&[10, 0, 0]), 4);
        assert_eq!(p.required_staff(&[0, 15, 0]), 3);
        assert_eq!(p.required_staff(&[0, 0, 20]), 3);
        assert_eq!(p.required_staff(&[0, 0, 21]), 3);
        assert_eq!(p.required_staff(&[0, 0, 22]), 4);
        // 1/3 + 1/5 + 1/7 = 71/105 -> 1
        assert_eq!(p.required_staff(&[1, 1, 1]), 1);
        // 3/3 + 5/5 + 7/7 = 3 exactly, no float drift
        assert_eq!(p.required_staff(&[3, 5, 7]), 3);
        // 2/3 + 2/5 = 16/15 -> 2
        assert_eq!(p.required_staff(&[2, 2, 0]), 2);
    }

    #[test]
    fn other_presets_use_their_own_ratios() {
        assert_eq!(Preset::UkEyfs.required_staff(&[4, 0, 0]), 2);
        assert_eq!(Preset::UkEyfs.required_staff(&[0, 0, 8]), 1);
        assert_eq!(Preset::UsCfoc.required_staff(&[0, 8, 0, 0]), 2);
        assert_eq!(Preset::AuNqf.required_staff(&[0, 0, 11]), 1);
        assert_eq!(Preset::AuNqf.required_staff(&[4, 5, 11]), 3);
    }

    #[test]
    fn cn_home_2023_has_one_band_for_every_age_at_one_to_three_with_groups_of_five() {
        let p = Preset::CnHome2023;
        assert_eq!(p.bands().len(), 1);
        for months in [0, 11, 12, 23, 24, 35, 36, 200] {
            assert_eq!(p.band_of(months), 0, "{months} months");
        }
        assert_eq!(p.required_staff(&[0]), 0);
        assert_eq!(p.required_staff(&[1]), 1);
        assert_eq!(p.required_staff(&[3]), 1);
        assert_eq!(p.required_staff(&[4]), 2);
        assert_eq!(p.required_staff(&[5]), 2);
        assert_eq!(p.required_staff(&[7]), 3);
        assert_eq!(p.group_size(&[0], None), None);
        assert_eq!(p.group_size(&[1], Some(4)), Some(5));
        assert_eq!(p.group_size(&[5], Some(30)), Some(5));
    }

    #[test]
    fn group_size_follows_single_band_mixed_room_and_presets_without_one() {
        let p = Preset::Cn2019;
        assert_eq!(p.group_size(&[0, 0, 0], None), None);
        assert_eq!(p.group_size(&[3, 0, 0], Some(5)), Some(10));
        assert_eq!(p.group_size(&[0, 4, 0], Some(13)), Some(15));
        assert_eq!(p.group_size(&[0, 0, 4], Some(30)), Some(20));
        assert_eq!(p.group_size(&[0, 4, 4], Some(18)), Some(18));
        assert_eq!(p.group_size(&[0, 4, 4], Some(17)), Some(15));
        assert_eq!(p.group_size(&[1, 4, 4], Some(6)), Some(10));
        assert_eq!(Preset::UkEyfs.group_size(&[2, 2, 0], Some(3)), None);
        assert_eq!(Preset::UsCfoc.group_size(&[0, 2, 2, 0], Some(20)), Some(8));
    }
}
