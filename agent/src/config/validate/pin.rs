//! Staff PINs: each `pin_hash` is an argon2 PHC string within the cost caps that the staff
//! page enforces again before every verification (`crate::pin`, where the caps and
//! their reasons live: the code that pays for a hash decides what it may cost).

use super::{Doc, Findings, Found};
use crate::config::Config;
use crate::pin::PinHash;

/// Every `staff[i].pin_hash` parses and is affordable on the board.
pub(super) fn check_pin_hashes(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    for (i, s) in cfg.staff.iter().enumerate() {
        let Some(phc) = &s.pin_hash else { continue };
        let key = format!("{}.pin_hash", doc.elem("staff", i));
        if doc.stand_in(&key) {
            continue;
        }
        if let Err(e) = PinHash::parse(phc) {
            f.report(key, format!("the PIN hash of staff `{}` {e}", s.id));
        }
    }
    f.done()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use nursery_testkit::{Roster, Staff, PIN_HASH};

    use crate::config::{parse, Problem};

    /// The problems of a one-caregiver nursery whose `s-09` has `phc` as her PIN hash.
    fn problems(phc: &str) -> (String, Vec<Problem>) {
        let text = Roster::sunflower()
            .staff(Staff::caregiver("s-09", "Zhao", "infant").pin_hash(phc))
            .toml();
        let found = match parse(&text, Path::new("/etc/nursery/agent.toml")) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        };
        (text, found)
    }

    fn only_problem(phc: &str, says: &str) {
        let (text, found) = problems(phc);
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        let index = text.matches("[[staff]]").count() - 1;
        assert_eq!(p.key, format!("staff[{index}].pin_hash"), "{p}");
        let line = text
            .lines()
            .position(|l| l.starts_with("pin_hash"))
            .map(|i| i + 1);
        assert_eq!(p.line, line, "{p}");
        assert!(p.message.contains("staff `s-09`"), "{p}");
        assert!(p.message.contains(says), "`{says}` not in {p}");
        // The hash itself is not repeated in the message.
        assert!(!p.message.contains("c2FsdHNhbHRzYWx0"), "{p}");
    }

    #[test]
    fn check_config_refuses_a_pin_hash_that_would_allocate_four_terabytes() {
        only_problem(
            "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHRzYWx0$\
             0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
            "costs too much: m=4294967295 KiB",
        );
    }

    #[test]
    fn check_config_refuses_a_pin_hash_that_is_not_argon2() {
        only_problem("1234", "is not a PHC string");
        only_problem(
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
            "not argon2",
        );
    }

    #[test]
    fn the_demo_pin_hash_passes_check_config() {
        let (_, found) = problems(PIN_HASH);
        assert!(found.is_empty(), "{found:?}");
    }
}
