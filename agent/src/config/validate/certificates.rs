//! Certificates (contract section 8): a member of staff lists each kind once, and
//! `required_certificates` names each kind once. Unknown kinds and unreadable `expires`
//! dates are the shape pass's; together every certificate problem of a file is reported
//! in one run.

use std::collections::HashMap;

use super::{Doc, Findings, Found};
use crate::config::Config;

pub(super) fn check_certificates(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    for (i, s) in cfg.staff.iter().enumerate() {
        let list = format!("{}.certificates", doc.elem("staff", i));
        let mut first: HashMap<_, String> = HashMap::new();
        for (j, c) in s.certificates.iter().enumerate() {
            let key = doc.elem(&list, j);
            match first.get(&c.kind) {
                Some(earlier) => f.report(
                    format!("{key}.kind"),
                    format!(
                        "`{}` is listed twice for `{}` (also {}); give each certificate once, \
                         with its latest expiry",
                        c.kind.as_str(),
                        s.id,
                        f.at(earlier)
                    ),
                ),
                None => {
                    first.insert(c.kind, key);
                }
            }
        }
    }
    let mut seen = HashMap::new();
    for (j, kind) in cfg.rules.required_certificates.iter().enumerate() {
        let key = doc.elem("rules.required_certificates", j);
        if let Some(earlier) = seen.insert(*kind, key.clone()) {
            f.report(
                key,
                format!(
                    "`{}` is required twice (also {})",
                    kind.as_str(),
                    f.at(&earlier)
                ),
            );
            seen.insert(*kind, earlier);
        }
    }
    f.done()
}
