//! A prompt template: text with `{{name}}` variables, filled from a row of
//! the inputs.
//!
//! - A variable is `{{name}}`, with optional spaces inside the braces
//!   (`{{ name }}`). A name is letters and digits of any script, `_`, `-` and
//!   `.`: it names a column of the input table.
//! - `\{{` is a literal `{{`. Backslashes anywhere else are literal, except
//!   that directly before `{{` two backslashes stand for one, so
//!   `\\{{name}}` is a backslash followed by the variable.
//! - A single `{` or `}`, and `}}` with no opening, are literal text, so JSON
//!   in a prompt needs no escaping unless it holds `{{`.
//!
//! A template is parsed once into parts; rendering a row only joins them.

use super::inputs::InputTable;
use crate::text::{is_word_char, line_and_column};
use thiserror::Error;

/// A parsed prompt template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// A piece of a template: literal text, or a variable to fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text sent as it is (escapes already resolved).
    Text(String),
    /// A variable, by name (without braces or spaces).
    Variable(String),
}

/// Why a template could not be parsed. Lines and columns count from 1; the
/// column in characters.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// A `{{` with no `}}` after it.
    #[error("the {{{{ at line {line}, column {column} is never closed: end the variable with }}}}, or write \\{{{{ for a literal {{{{")]
    Unclosed {
        /// Line of the `{{`.
        line: usize,
        /// Column of the `{{`.
        column: usize,
    },
    /// Braces around something that is not a variable name.
    #[error("{{{{{name}}}}} at line {line}, column {column} is not a variable: a name is letters, digits, _, - and . (write \\{{{{ for a literal {{{{)")]
    InvalidName {
        /// What was between the braces, trimmed.
        name: String,
        /// Line of the `{{`.
        line: usize,
        /// Column of the `{{`.
        column: usize,
    },
}

/// Why a template could not be filled from a row. Rows count from 1, as the
/// input table shows them.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RenderError {
    /// The template uses a variable no column is named after.
    #[error("the template uses {{{{{name}}}}}, but the inputs have no column named {name} (their columns: {})", columns.join(", "))]
    UnknownVariable {
        /// The variable.
        name: String,
        /// The columns the inputs have.
        columns: Vec<String>,
    },
    /// The row has no value for a variable (a JSONL line without that key).
    #[error("row {row} has no value for {{{{{name}}}}}")]
    MissingValue {
        /// The variable.
        name: String,
        /// The row, from 1.
        row: usize,
    },
    /// There is no such row.
    #[error("there is no row {row}: the inputs have {rows} rows")]
    NoSuchRow {
        /// The row asked for, from 1.
        row: usize,
        /// How many rows there are.
        rows: usize,
    },
}

impl Template {
    /// Parses `source` (see the [module docs](self) for the syntax).
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut position = 0;
        while let Some(found) = source[position..].find("{{") {
            let open = position + found;
            let before = &source[position..open];
            let backslashes = before.len() - before.trim_end_matches('\\').len();
            text.push_str(&before[..before.len() - backslashes]);
            text.extend(std::iter::repeat_n('\\', backslashes / 2));
            if backslashes % 2 == 1 {
                text.push_str("{{");
                position = open + 2;
                continue;
            }
            let (line, column) = line_and_column(source, open);
            let Some(length) = source[open + 2..].find("}}") else {
                return Err(TemplateError::Unclosed { line, column });
            };
            let name = source[open + 2..open + 2 + length].trim();
            if name.is_empty() || !name.chars().all(is_name_char) {
                return Err(TemplateError::InvalidName {
                    name: name.to_owned(),
                    line,
                    column,
                });
            }
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Variable(name.to_owned()));
            position = open + 2 + length + 2;
        }
        text.push_str(&source[position..]);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// The template's parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The variables it uses, each once, in the order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Variable(name) = part {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The prompt for row `row` (from 0) of `inputs`.
    pub fn render_row(&self, inputs: &InputTable, row: usize) -> Result<String, RenderError> {
        let Some(values) = inputs.rows().get(row) else {
            return Err(RenderError::NoSuchRow {
                row: row + 1,
                rows: inputs.rows().len(),
            });
        };
        self.bind(inputs.columns())?.render(values, row)
    }

    /// The template with each variable resolved to its column in `columns`,
    /// to render many rows without looking names up again.
    pub(super) fn bind(&self, columns: &[String]) -> Result<BoundTemplate<'_>, RenderError> {
        let mut columns_used = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            if let Part::Variable(name) = part {
                let Some(column) = columns.iter().position(|column| column == name) else {
                    return Err(RenderError::UnknownVariable {
                        name: name.clone(),
                        columns: columns.to_vec(),
                    });
                };
                columns_used.push(column);
            }
        }
        Ok(BoundTemplate {
            template: self,
            columns: columns_used,
        })
    }
}

/// A template whose variables are resolved to column positions.
pub(super) struct BoundTemplate<'a> {
    template: &'a Template,
    /// The column of each variable part, in order.
    columns: Vec<usize>,
}

impl BoundTemplate<'_> {
    /// The prompt for `values`, the cells of row `row` (from 0, for errors).
    pub(super) fn render(
        &self,
        values: &[Option<String>],
        row: usize,
    ) -> Result<String, RenderError> {
        let mut prompt = String::new();
        let mut columns = self.columns.iter();
        for part in &self.template.parts {
            match part {
                Part::Text(text) => prompt.push_str(text),
                Part::Variable(name) => {
                    let column = *columns.next().expect("one column per variable");
                    let Some(Some(value)) = values.get(column) else {
                        return Err(RenderError::MissingValue {
                            name: name.clone(),
                            row: row + 1,
                        });
                    };
                    prompt.push_str(value);
                }
            }
        }
        Ok(prompt)
    }
}

/// Whether `character` may appear in a variable name.
pub(super) fn is_name_char(character: char) -> bool {
    is_word_char(character) || matches!(character, '_' | '-' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(source: &str) -> Vec<Part> {
        Template::parse(source).unwrap().parts
    }

    fn text(text: &str) -> Part {
        Part::Text(text.to_owned())
    }

    fn variable(name: &str) -> Part {
        Part::Variable(name.to_owned())
    }

    fn table(columns: &[&str], rows: &[&[Option<&str>]]) -> InputTable {
        InputTable::from_rows(
            columns.iter().map(|c| c.to_string()).collect(),
            (rows.iter())
                .map(|row| row.iter().map(|cell| cell.map(str::to_owned)).collect())
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn splits_text_and_variables_with_spaces_inside_braces() {
        assert_eq!(
            parts("Translate {{ text }} into {{lang}}."),
            [
                text("Translate "),
                variable("text"),
                text(" into "),
                variable("lang"),
                text(".")
            ]
        );
        assert_eq!(parts("{{a}}{{b}}"), [variable("a"), variable("b")]);
        assert_eq!(parts(""), []);
        assert_eq!(
            parts("{{user.first-name_2}} {{prénom}} {{名前}}"),
            [
                variable("user.first-name_2"),
                text(" "),
                variable("prénom"),
                text(" "),
                variable("名前")
            ]
        );
    }

    #[test]
    fn lists_variables_once_in_order_of_first_use() {
        let template = Template::parse("{{b}} {{a}} {{b}} {{c}} {{a}}").unwrap();
        assert_eq!(template.variables(), ["b", "a", "c"]);
    }

    #[test]
    fn backslash_escapes_a_literal_double_brace() {
        assert_eq!(
            parts(r"Write \{{name}} literally, then {{name}}"),
            [text("Write {{name}} literally, then "), variable("name")]
        );
        assert_eq!(
            parts(r"C:\\{{dir}}"),
            [text(r"C:\"), variable("dir")],
            "two backslashes before {{ are one backslash, and the variable stays"
        );
        assert_eq!(parts(r"\\\{{x}}"), [text(r"\{{x}}")]);
        assert_eq!(
            parts(r"a\b \n {x} }} {"),
            [text(r"a\b \n {x} }} {")],
            "other backslashes and single braces are literal"
        );
        assert_eq!(
            parts(r#"{"answer": {{ value }}}"#),
            [text("{\"answer\": "), variable("value"), text("}")]
        );
    }

    #[test]
    fn an_unclosed_variable_is_an_error_at_its_place() {
        let error = Template::parse("line one\nsay {{name to me").unwrap_err();
        assert_eq!(error, TemplateError::Unclosed { line: 2, column: 5 });
        let message = error.to_string();
        assert!(
            message.contains("{{ at line 2, column 5 is never closed"),
            "{message}"
        );
        assert!(message.contains(r"\{{"), "{message}");
    }

    #[test]
    fn braces_around_a_non_name_are_refused() {
        for (source, name) in [
            ("{{first name}}", "first name"),
            ("{{ }}", ""),
            ("{{a{b}}", "a{b"),
            ("{{#if x}}", "#if x"),
        ] {
            let error = Template::parse(source).unwrap_err();
            assert_eq!(
                error,
                TemplateError::InvalidName {
                    name: name.to_owned(),
                    line: 1,
                    column: 1
                },
                "{source}"
            );
        }
        let message = Template::parse("é {{first name}}").unwrap_err().to_string();
        assert_eq!(
            message,
            r"{{first name}} at line 1, column 3 is not a variable: a name is letters, digits, _, - and . (write \{{ for a literal {{)"
        );
    }

    #[test]
    fn renders_a_row_and_names_what_is_missing() {
        let inputs = table(
            &["text", "lang"],
            &[&[Some("bonjour"), Some("English")], &[Some("hola"), None]],
        );
        let template = Template::parse("Translate {{text}} into {{ lang }}.").unwrap();
        assert_eq!(
            template.render_row(&inputs, 0).unwrap(),
            "Translate bonjour into English."
        );
        let missing = template.render_row(&inputs, 1).unwrap_err();
        assert_eq!(missing.to_string(), "row 2 has no value for {{lang}}");
        let unknown = Template::parse("{{text}} {{tone}}")
            .unwrap()
            .render_row(&inputs, 0)
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "the template uses {{tone}}, but the inputs have no column named tone (their columns: text, lang)"
        );
        assert_eq!(
            template.render_row(&inputs, 2).unwrap_err(),
            RenderError::NoSuchRow { row: 3, rows: 2 }
        );
    }

    #[test]
    fn an_empty_value_is_a_value() {
        let inputs = table(&["x"], &[&[Some("")]]);
        let template = Template::parse("[{{x}}]").unwrap();
        assert_eq!(template.render_row(&inputs, 0).unwrap(), "[]");
    }
}
