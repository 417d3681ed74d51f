//! The ledger as CSV for Excel and WPS: UTF-8 with a byte-order mark (without it Excel
//! reads Chinese as mojibake), CRLF line ends, every field that needs it quoted (RFC 4180),
//! one block per table: a blank row, a title row, a header row, the rows.
//!
//! A field that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with
//! `'`: a spreadsheet would otherwise run a note typed on the staff page as a formula
//! (OWASP "CSV injection").

use super::tables::{self, Words};
use super::Ledger;

/// The byte-order mark that tells Excel the file is UTF-8.
pub const BOM: &str = "\u{feff}";

/// The whole file.
pub fn render(l: &Ledger) -> String {
    let mut out = String::from(BOM);
    row(
        &mut out,
        &[
            heading(tables::TITLE),
            l.facility_name.clone(),
            l.facility_id.clone(),
            l.date.to_string(),
            l.timezone.name().to_string(),
        ],
    );
    if l.unreadable > 0 {
        row(
            &mut out,
            &[format!(
                "注意 Note: 日志中有 {n} 行无法读取 ({n} journal lines could not be read)",
                n = l.unreadable
            )],
        );
    }
    for section in tables::sections(l) {
        for t in section.tables {
            out.push_str("\r\n");
            row(
                &mut out,
                &[format!("{} / {}", heading(section.title), heading(t.title))],
            );
            let header: Vec<String> = t.columns.iter().map(|c| heading(*c)).collect();
            row(&mut out, &header);
            if t.rows.is_empty() {
                row(&mut out, &[heading(t.empty)]);
            }
            for r in &t.rows {
                row(&mut out, r);
            }
        }
    }
    out
}

fn heading(w: Words) -> String {
    format!("{} {}", w.zh, w.en)
}

fn row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, f.as_ref());
    }
    out.push_str("\r\n");
}

/// One field, guarded against formulas and quoted when it holds a comma, a quote, a line
/// break or surrounding spaces.
pub fn field(out: &mut String, value: &str) {
    let guarded;
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    let quote =
        value.contains([',', '"', '\r', '\n']) || value.starts_with(' ') || value.ends_with(' ');
    if quote {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    fn one(v: &str) -> String {
        let mut s = String::new();
        field(&mut s, v);
        s
    }

    #[test]
    fn a_field_with_a_comma_quote_or_line_break_is_quoted_and_its_quotes_doubled() {
        assert_eq!(one("王老师"), "王老师");
        assert_eq!(one("a,b"), "\"a,b\"");
        assert_eq!(one("说\"好\""), "\"说\"\"好\"\"\"");
        assert_eq!(one("line\r\nbreak"), "\"line\r\nbreak\"");
        assert_eq!(one(" padded"), "\" padded\"");
    }

    #[test]
    fn a_field_that_a_spreadsheet_would_run_as_a_formula_is_made_text() {
        assert_eq!(one("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(one("+1"), "'+1");
        assert_eq!(one("@SUM(A1)"), "'@SUM(A1)");
    }
}
