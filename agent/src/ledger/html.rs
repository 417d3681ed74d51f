//! The ledger as one self-contained HTML page to print: no script, no external asset, its
//! style inline. Printed from Chromium it is A4 (`@page`), each section starts a new page,
//! table headers repeat on every page a table runs over, and rows are not split. Headings
//! are in Chinese with English beside them, like the staff page.

use super::tables::{self, Table, Words};
use super::Ledger;

/// The page's style, inline (the staff page serves the ledger with a policy that allows
/// inline style and nothing else: the page has no script at all).
pub const STYLE: &str = "
@page { size: A4; margin: 12mm 10mm 14mm 10mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif;
  font-size: 10pt; color: #000; margin: 0 auto; max-width: 200mm; padding: 4mm; }
header h1 { font-size: 16pt; margin: 0 0 2mm; }
.en { color: #444; font-weight: normal; }
.meta { margin: 0 0 4mm; }
.meta span { margin-right: 6mm; }
.warn { border: 1px solid #000; padding: 2mm; font-weight: bold; }
section + section { break-before: page; page-break-before: always; }
h2 { font-size: 13pt; border-bottom: 2px solid #000; margin: 4mm 0 2mm; }
h3 { font-size: 11pt; margin: 4mm 0 1mm; break-after: avoid; page-break-after: avoid; }
table { width: 100%; border-collapse: collapse; margin-bottom: 3mm; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #555; padding: 1mm 1.5mm; text-align: left; vertical-align: top;
  word-break: keep-all; overflow-wrap: break-word; }
th { background: #eee; font-size: 9pt; }
th .en { display: block; font-size: 8pt; }
td.empty { color: #444; font-style: italic; }
.sign { margin-top: 10mm; display: flex; gap: 20mm; break-inside: avoid; }
.sign span { flex: 1; border-top: 1px solid #000; padding-top: 1mm; }
nav.screen { margin-bottom: 4mm; }
@media print { nav.screen { display: none; } }
";

/// The whole page. `nav` is extra markup shown on screen only (the staff page's date
/// picker); it must already be escaped.
pub fn render(l: &Ledger, nav: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>{} {} {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(tables::TITLE.zh),
        esc(&l.facility_name),
        l.date
    ));
    if !nav.is_empty() {
        out.push_str(&format!("<nav class=\"screen\">{nav}</nav>\n"));
    }
    out.push_str(&format!(
        "<header>\n<h1>{} <span class=\"en\">{}</span></h1>\n<p class=\"meta\">\
         <span>机构 Facility: {} ({})</span><span>日期 Date: {}</span>\
         <span>时区 Time zone: {}</span></p>\n",
        esc(tables::TITLE.zh),
        esc(tables::TITLE.en),
        esc(&l.facility_name),
        esc(&l.facility_id),
        l.date,
        esc(l.timezone.name()),
    ));
    if l.unreadable > 0 {
        out.push_str(&format!(
            "<p class=\"warn\">注意：日志中有 {n} 行无法读取，未计入本台账 \
             <span class=\"en\">Note: {n} journal lines could not be read and are not in this ledger</span></p>\n",
            n = l.unreadable
        ));
    }
    out.push_str("</header>\n");
    for section in tables::sections(l) {
        out.push_str(&format!("<section>\n<h2>{}</h2>\n", words(section.title)));
        for t in &section.tables {
            table(&mut out, t);
        }
        out.push_str("</section>\n");
    }
    out.push_str(
        "<div class=\"sign\"><span>记录人 Recorded by</span><span>审核人 Reviewed by</span>\
         <span>日期 Date</span></div>\n</body>\n</html>\n",
    );
    out
}

fn words(w: Words) -> String {
    format!("{} <span class=\"en\">{}</span>", esc(w.zh), esc(w.en))
}

fn table(out: &mut String, t: &Table) {
    out.push_str(&format!(
        "<h3 id=\"{}\">{}</h3>\n<table>\n<thead><tr>",
        t.id,
        words(t.title)
    ));
    for c in &t.columns {
        out.push_str(&format!("<th>{}</th>", words(*c)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if t.rows.is_empty() {
        out.push_str(&format!(
            "<tr><td class=\"empty\" colspan=\"{}\">{}</td></tr>\n",
            t.columns.len(),
            words(t.empty)
        ));
    }
    for r in &t.rows {
        out.push_str("<tr>");
        for cell in r {
            out.push_str(&format!("<td>{}</td>", esc(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Text as HTML: nothing from the journal or the roster can become markup.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
