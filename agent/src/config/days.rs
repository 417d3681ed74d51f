//! Contract section 8: the days of the week a nursery opens (`[facility] days`) and a child
//! is expected (`[[children]] days`), written as `"mon"` … `"sun"`.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::names::serde_name;

/// A day of the week as the configuration names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum DayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayName {
    pub const ALL: &'static [DayName] = <DayName as VariantArray>::VARIANTS;

    /// `"mon"` … `"sun"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    pub fn of(w: chrono::Weekday) -> DayName {
        use chrono::Weekday::*;
        match w {
            Mon => DayName::Mon,
            Tue => DayName::Tue,
            Wed => DayName::Wed,
            Thu => DayName::Thu,
            Fri => DayName::Fri,
            Sat => DayName::Sat,
            Sun => DayName::Sun,
        }
    }
}

/// The facility's days when `[facility] days` is absent: Monday to Friday.
pub fn default_days() -> Vec<DayName> {
    use DayName::*;
    vec![Mon, Tue, Wed, Thu, Fri]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn day_names_are_the_three_letter_names_and_match_chrono_weekdays() {
        let names: Vec<&str> = DayName::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(names, ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
        // 2026-03-02 is a Monday.
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        for (i, d) in DayName::ALL.iter().enumerate() {
            let date = monday + chrono::Duration::days(i as i64);
            assert_eq!(DayName::of(date.weekday()), *d);
        }
    }
}
