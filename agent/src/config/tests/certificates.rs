//! Certificates on `[[staff]]` and the rules that require them (contract section 8):
//! every certificate problem of a file in one run, each at its key and line.

use super::*;

/// `BASE` with a second member of staff, both holding certificates as given, and `rules`.
fn roster(first: &str, second: &str, rules: &str) -> String {
    let text = with(
        "role = \"caregiver\"\nroom = \"infant\"\n",
        &format!("role = \"caregiver\"\nroom = \"infant\"\ncertificates = {first}\n"),
    );
    format!(
        "{text}\n[[staff]]\nid = \"s-02\"\nname = \"Li\"\nrole = \"teacher\"\nroom = \"infant\"\n\
         certificates = {second}\n\n[rules]\n{rules}\n"
    )
}

#[test]
fn certificates_and_the_rules_requiring_them_load_with_their_defaults() {
    let cfg = ok(&roster(
        r#"[{ kind = "health", expires = "2027-01-31" }, { kind = "caregiver", expires = 2029-06-30 }]"#,
        "[]",
        r#"required_certificates = ["health"]"#,
    ));
    let certs = &cfg.staff[0].certificates;
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].kind, CertificateKind::Health);
    assert_eq!(
        certs[1].expires.to_string(),
        "2029-06-30",
        "a TOML date works too"
    );
    assert_eq!(cfg.rules.required_certificates, [CertificateKind::Health]);
    assert_eq!(
        cfg.rules.certificate_warning.0,
        Duration::from_secs(30 * 24 * 3600)
    );
    let plain = ok(BASE);
    assert!(plain.rules.required_certificates.is_empty());
    assert!(plain.staff[0].certificates.is_empty());
}

#[test]
fn check_config_reports_every_certificate_problem_at_once_each_at_its_line() {
    let text = roster(
        r#"[{ kind = "health", expires = "2027-02-30" }, { kind = "helth", expires = "2027-01-31" }]"#,
        r#"[
  { kind = "health", expires = "2026-13-01" },
  { kind = "caregiver", expires = "2028-01-01" },
  { kind = "caregiver", expires = "2029-01-01" },
]"#,
        r#"required_certificates = ["health", "first_aid", "health"]
certificate_warning = "a month""#,
    );
    let found = problems(&text);
    let listed: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "staff[0].certificates[0].expires",
            "staff[0].certificates[1].kind",
            "staff[1].certificates[0].expires",
            "staff[1].certificates[2].kind",
            "rules.required_certificates[2]",
            "rules.certificate_warning",
        ],
        "{listed:#?}"
    );
    let says = |i: usize, what: &str| {
        assert!(
            found[i].message.contains(what),
            "`{what}` not in {}",
            listed[i]
        );
    };
    says(0, "invalid date \"2027-02-30\"");
    says(1, "unknown value `helth`");
    says(1, "`health`");
    says(2, "invalid date \"2026-13-01\"");
    says(3, "`caregiver` is listed twice for `s-02`");
    says(3, &format!("line {}", line(&text, "2028-01-01")));
    says(4, "`health` is required twice");
    assert_eq!(found[0].line, Some(line(&text, "2027-02-30")));
    assert_eq!(found[2].line, Some(line(&text, "2026-13-01")));
    assert_eq!(found[3].line, Some(line(&text, "2029-01-01")));
    assert_eq!(found[4].line, Some(line(&text, "required_certificates = ")));
}

#[test]
fn a_certificate_without_an_expiry_or_with_a_key_of_its_own_is_refused() {
    let text = roster(
        r#"[{ kind = "health" }]"#,
        r#"[{ kind = "health", expires = "2027-01-01", number = "A-1" }]"#,
        "",
    );
    let found = problems(&text);
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "staff[0].certificates[0].expires");
    assert!(got[0].1.contains("missing"), "{got:?}");
    assert_eq!(got[1].0, "staff[1].certificates[0].number");
    assert!(got[1].1.contains("unknown key"), "{got:?}");
}
