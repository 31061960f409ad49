//! Writing CSV records, and keeping spreadsheets from running a cell.

use std::borrow::Cow;

/// Appends one RFC 4180 record: fields holding a comma, quote or line break
/// are quoted, with quotes doubled; records end in CRLF. A record of one
/// empty field is written `""`, since an empty line reads as no record.
/// (So is a record of no fields, which nothing writes.)
pub(crate) fn push_record<Field: AsRef<str>>(
    csv: &mut String,
    fields: impl IntoIterator<Item = Field>,
) {
    let start = csv.len();
    for (position, field) in fields.into_iter().enumerate() {
        if position > 0 {
            csv.push(',');
        }
        let field = field.as_ref();
        if field.contains([',', '"', '\r', '\n']) {
            csv.push('"');
            csv.push_str(&field.replace('"', "\"\""));
            csv.push('"');
        } else {
            csv.push_str(field);
        }
    }
    if csv.len() == start {
        csv.push_str("\"\"");
    }
    csv.push_str("\r\n");
}

/// `cell` prefixed with `'` when a spreadsheet would run it as a formula
/// (it starts with `=`, `+`, `-`, `@`, tab or carriage return): model output is
/// untrusted and must not execute when an exported file is opened.
pub(crate) fn defuse_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_fields_that_need_it_and_doubles_their_quotes() {
        let mut csv = String::new();
        push_record(&mut csv, ["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(csv, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
    }

    #[test]
    fn a_lone_empty_field_is_quoted_so_it_stays_a_record() {
        let mut csv = String::new();
        push_record(&mut csv, [""]);
        push_record(&mut csv, ["", ""]);
        assert_eq!(csv, "\"\"\r\n,\r\n");
    }

    #[test]
    fn defuses_what_a_spreadsheet_would_evaluate() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse_formula(risky), format!("'{risky}"));
        }
        for safe in ["", "1", "a=b", "'quoted"] {
            assert_eq!(defuse_formula(safe), safe);
        }
    }
}
