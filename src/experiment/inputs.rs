//! The input table of an experiment: named columns (the template's
//! variables) and rows of values; read from CSV or JSONL, edited, written
//! back as CSV.
//!
//! A cell is `None` when a row has no value for its column at all (a JSONL
//! line without that key), which is not the same as an empty value: rendering
//! a template that needs it is an error naming the row.
//!
//! Reading errors give the place as a person counts, from 1: the row (the
//! header is row 0), the column, and the physical line of the file.

use crate::rfc4180::{push_record, read_records, CsvError};
use crate::text::line_and_column;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::fmt;
use thiserror::Error;

/// Named columns and rows of values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TableJson")]
pub struct InputTable {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

/// The two file formats inputs are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Comma-separated values, RFC 4180, the first record naming the columns.
    Csv,
    /// JSON Lines: one JSON object per line, its keys naming the columns.
    Jsonl,
}

impl InputFormat {
    /// The format `bytes` look like: JSONL when the first thing in them
    /// (after a byte order mark and spaces) is `{`, else CSV. A CSV file
    /// whose first column name starts with `{` needs the format said explicitly.
    pub fn detect(bytes: &[u8]) -> InputFormat {
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'{') => InputFormat::Jsonl,
            _ => InputFormat::Csv,
        }
    }

    /// The format a file name's extension says (`.csv`; `.jsonl` or
    /// `.ndjson`), ignoring case; `None` for any other.
    pub fn from_file_name(name: &str) -> Option<InputFormat> {
        let (_, extension) = name.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
            "csv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }
}

/// Why a file could not be read as inputs. Rows, columns and lines count from
/// 1 as a person does; row 0 is a CSV file's header.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InputError {
    /// The file starts with a UTF-16 byte order mark.
    #[error("the file is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8 (in Excel: Save As → \"CSV UTF-8\") and import it again")]
    Utf16,
    /// The file is not valid UTF-8.
    #[error("the file is not valid UTF-8 at line {line}, column {column} (byte {byte}): save it as UTF-8 (in Excel: Save As → \"CSV UTF-8\") and import it again")]
    NotUtf8 {
        /// Line of the first invalid byte.
        line: usize,
        /// Column (in characters) of the first invalid byte.
        column: usize,
        /// Offset of the first invalid byte in the file, from 1.
        byte: usize,
    },
    /// The file holds a NUL character, which text never does: usually UTF-16
    /// without a byte order mark, or not a text file at all.
    #[error("the file holds a NUL character at line {line}, column {column}: it is probably UTF-16 or not a text file; save it as UTF-8 text and import it again")]
    NulCharacter {
        /// Its line.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// Nothing to read.
    #[error("the file is empty: {}", match format { InputFormat::Csv => "its first line must name the columns", InputFormat::Jsonl => "it must hold one JSON object per line" })]
    Empty {
        /// The format it was read as.
        format: InputFormat,
    },
    /// A column with no name.
    #[error("column {column} of {} has no name: every column needs one, since it becomes a {{{{variable}}}}", RowName(*row))]
    EmptyName {
        /// The row naming the columns: 0, the header, in CSV; in JSONL the
        /// row whose object has an empty key.
        row: usize,
        /// The column; in JSONL, the key's position in its object.
        column: usize,
    },
    /// Two columns with the same name.
    #[error("columns {first} and {second} of the header are both named {name}: column names must be unique")]
    DuplicateName {
        /// The name.
        name: String,
        /// The first column with it.
        first: usize,
        /// The second.
        second: usize,
    },
    /// A row with more or fewer cells than there are columns.
    #[error("row {row} (line {line}) has {found} cells, but the header names {expected} columns")]
    Ragged {
        /// The row.
        row: usize,
        /// The line it starts on.
        line: usize,
        /// How many columns there are.
        expected: usize,
        /// How many cells the row has.
        found: usize,
    },
    /// A quoted cell that never closes.
    #[error("the quote opening {}, column {column} (line {line}) is never closed: a quoted cell must end with a quote, and a quote inside it must be doubled (\"\")", RowName(*row))]
    UnterminatedQuote {
        /// The row.
        row: usize,
        /// The column.
        column: usize,
        /// The line of the opening quote.
        line: usize,
    },
    /// Text right after a quoted cell's closing quote.
    #[error("{}, column {column} (line {line}, character {character}) has text after its closing quote: a quote inside a quoted cell must be doubled (\"\")", RowName(*row))]
    TextAfterQuote {
        /// The row.
        row: usize,
        /// The column.
        column: usize,
        /// The line of the stray text.
        line: usize,
        /// The stray text's position on that line, in characters.
        character: usize,
    },
    /// A JSONL line holding valid JSON that is not an object.
    #[error("row {row} (line {line}) is {found}, not a JSON object: each line must be one object, like {{\"name\": \"Ada\"}}")]
    NotAnObject {
        /// The row.
        row: usize,
        /// The line.
        line: usize,
        /// What it holds instead: "an array", "a string", …
        found: &'static str,
    },
    /// A JSONL line that is not valid JSON.
    #[error("row {row} (line {line}), column {column} is not valid JSON: {message}")]
    InvalidJson {
        /// The row.
        row: usize,
        /// The line.
        line: usize,
        /// The column (in characters) where the JSON went wrong.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A JSONL object naming a key twice.
    #[error("row {row} (line {line}) has the key {key} twice")]
    DuplicateKey {
        /// The row.
        row: usize,
        /// The line.
        line: usize,
        /// The key.
        key: String,
    },
}

/// Why an edit of the table was refused (nothing was changed). Rows and
/// columns count from 1 in the messages, as the table shows them.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TableEditError {
    /// No row at that index.
    #[error("there is no row {}: the table has {rows} rows", index + 1)]
    NoSuchRow {
        /// The index asked for, from 0.
        index: usize,
        /// How many rows there are.
        rows: usize,
    },
    /// No column at that index.
    #[error("there is no column {}: the table has {columns} columns", index + 1)]
    NoSuchColumn {
        /// The index asked for, from 0.
        index: usize,
        /// How many columns there are.
        columns: usize,
    },
    /// An empty column name.
    #[error("a column needs a name: it becomes a {{{{variable}}}} of the template")]
    EmptyName,
    /// A column name already taken.
    #[error("there is already a column named {0}")]
    DuplicateName(String),
    /// A row with more or fewer cells than there are columns.
    #[error("row {} has {found} cells, but there are {expected} columns", index + 1)]
    WrongWidth {
        /// The row's index, from 0.
        index: usize,
        /// How many columns there are.
        expected: usize,
        /// How many cells the row has.
        found: usize,
    },
}

/// "the header" for row 0, "row N" otherwise.
struct RowName(usize);

impl fmt::Display for RowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("the header"),
            row => write!(f, "row {row}"),
        }
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl InputTable {
    /// A table of `columns` and `rows`; refused when a name is empty or
    /// repeated, or a row's width differs from the columns'.
    pub fn from_rows(
        columns: Vec<String>,
        rows: Vec<Vec<Option<String>>>,
    ) -> Result<InputTable, TableEditError> {
        for (index, name) in columns.iter().enumerate() {
            check_name(&columns[..index], name)?;
        }
        if let Some((index, row)) = rows
            .iter()
            .enumerate()
            .find(|(_, row)| row.len() != columns.len())
        {
            return Err(TableEditError::WrongWidth {
                index,
                expected: columns.len(),
                found: row.len(),
            });
        }
        Ok(InputTable { columns, rows })
    }

    /// Reads a file's bytes as `format`.
    pub fn parse(bytes: &[u8], format: InputFormat) -> Result<InputTable, InputError> {
        let text = decode(bytes)?;
        match format {
            InputFormat::Csv => from_csv(text),
            InputFormat::Jsonl => from_jsonl(text),
        }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, each with one cell per column.
    pub fn rows(&self) -> &[Vec<Option<String>>] {
        &self.rows
    }

    /// The position of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column == name)
    }

    /// The cell at `row`, `column` (from 0): `None` when out of range or when
    /// the row has no value there.
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        self.rows.get(row)?.get(column)?.as_deref()
    }

    /// Sets the cell at `row`, `column` (from 0).
    pub fn set_cell(
        &mut self,
        row: usize,
        column: usize,
        value: impl Into<String>,
    ) -> Result<(), TableEditError> {
        self.check_column(column)?;
        let rows = self.rows.len();
        let cells = self
            .rows
            .get_mut(row)
            .ok_or(TableEditError::NoSuchRow { index: row, rows })?;
        cells[column] = Some(value.into());
        Ok(())
    }

    /// Appends a row of empty values and returns its index.
    pub fn add_row(&mut self) -> usize {
        self.rows
            .push(vec![Some(String::new()); self.columns.len()]);
        self.rows.len() - 1
    }

    /// Removes row `row` (from 0) and returns its cells.
    pub fn remove_row(&mut self, row: usize) -> Result<Vec<Option<String>>, TableEditError> {
        if row >= self.rows.len() {
            return Err(TableEditError::NoSuchRow {
                index: row,
                rows: self.rows.len(),
            });
        }
        Ok(self.rows.remove(row))
    }

    /// Appends a column named `name` (empty in every row) and returns its index.
    pub fn add_column(&mut self, name: impl Into<String>) -> Result<usize, TableEditError> {
        let name = name.into();
        check_name(&self.columns, &name)?;
        self.columns.push(name);
        for row in &mut self.rows {
            row.push(Some(String::new()));
        }
        Ok(self.columns.len() - 1)
    }

    /// Renames column `column` (from 0).
    pub fn rename_column(
        &mut self,
        column: usize,
        name: impl Into<String>,
    ) -> Result<(), TableEditError> {
        self.check_column(column)?;
        let name = name.into();
        let others: Vec<String> = (self.columns.iter().enumerate())
            .filter(|(index, _)| *index != column)
            .map(|(_, other)| other.clone())
            .collect();
        check_name(&others, &name)?;
        self.columns[column] = name;
        Ok(())
    }

    /// Removes column `column` (from 0) from the header and every row, and
    /// returns its name.
    pub fn remove_column(&mut self, column: usize) -> Result<String, TableEditError> {
        self.check_column(column)?;
        for row in &mut self.rows {
            row.remove(column);
        }
        Ok(self.columns.remove(column))
    }

    /// The table as CSV (RFC 4180, CRLF line ends), which [`InputTable::parse`]
    /// reads back to the same table (a missing value is written empty).
    /// Values are written exactly, with no formula defusing: these are the
    /// user's own inputs, and altering them would break the round trip.
    pub fn to_csv(&self) -> String {
        let mut csv = String::new();
        push_record(&mut csv, &self.columns);
        for row in &self.rows {
            push_record(
                &mut csv,
                row.iter().map(|cell| cell.as_deref().unwrap_or("")),
            );
        }
        csv
    }

    fn check_column(&self, column: usize) -> Result<(), TableEditError> {
        if column < self.columns.len() {
            Ok(())
        } else {
            Err(TableEditError::NoSuchColumn {
                index: column,
                columns: self.columns.len(),
            })
        }
    }
}

/// Refuses an empty `name` or one already in `taken`.
fn check_name(taken: &[String], name: &str) -> Result<(), TableEditError> {
    if name.trim().is_empty() {
        Err(TableEditError::EmptyName)
    } else if taken.iter().any(|other| other == name) {
        Err(TableEditError::DuplicateName(name.to_owned()))
    } else {
        Ok(())
    }
}

/// The file's text: UTF-8, without its byte order mark.
fn decode(bytes: &[u8]) -> Result<&str, InputError> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(InputError::Utf16);
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let valid = error.valid_up_to();
        let prefix = std::str::from_utf8(&bytes[..valid]).expect("valid up to here");
        let (line, column) = line_and_column(prefix, valid);
        InputError::NotUtf8 {
            line,
            column,
            byte: valid + 1,
        }
    })?;
    if let Some(nul) = text.find('\0') {
        let (line, column) = line_and_column(text, nul);
        return Err(InputError::NulCharacter { line, column });
    }
    Ok(text)
}

fn from_csv(text: &str) -> Result<InputTable, InputError> {
    let records = read_records(text).map_err(|error| match error {
        CsvError::UnterminatedQuote {
            record,
            field,
            line,
        } => InputError::UnterminatedQuote {
            row: record,
            column: field,
            line,
        },
        CsvError::TextAfterQuote {
            record,
            field,
            line,
            column,
        } => InputError::TextAfterQuote {
            row: record,
            column: field,
            line,
            character: column,
        },
    })?;
    let mut records = records.into_iter();
    let header = records.next().ok_or(InputError::Empty {
        format: InputFormat::Csv,
    })?;
    // Spaces around names ("name, country") are a typing habit, never meant.
    let columns: Vec<String> = header
        .fields
        .iter()
        .map(|name| name.trim().to_owned())
        .collect();
    for (index, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(InputError::EmptyName {
                row: 0,
                column: index + 1,
            });
        }
        if let Some(first) = columns[..index].iter().position(|other| other == name) {
            return Err(InputError::DuplicateName {
                name: name.clone(),
                first: first + 1,
                second: index + 1,
            });
        }
    }
    let mut rows = Vec::with_capacity(records.len());
    for (index, record) in records.enumerate() {
        if record.fields.len() != columns.len() {
            return Err(InputError::Ragged {
                row: index + 1,
                line: record.line,
                expected: columns.len(),
                found: record.fields.len(),
            });
        }
        rows.push(record.fields.into_iter().map(Some).collect());
    }
    Ok(InputTable { columns, rows })
}

/// JSON Lines: each non-blank line one object. String values are used as
/// they are; any other value (number, boolean, null, array, object) as its
/// JSON text, exactly as written. Keys become columns in the order they first
/// appear; a row without a key has no value (`None`) there.
fn from_jsonl(text: &str) -> Result<InputTable, InputError> {
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for (index, line_text) in text.split('\n').enumerate() {
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        if line_text.trim().is_empty() {
            continue;
        }
        let (row, line) = (rows.len() + 1, index + 1);
        let entries = read_object(line_text).map_err(|error| error.at(row, line))?;
        let mut cells = vec![None; columns.len()];
        for (position, (key, value)) in entries.into_iter().enumerate() {
            if key.trim().is_empty() {
                return Err(InputError::EmptyName {
                    row,
                    column: position + 1,
                });
            }
            let column = match columns.iter().position(|column| *column == key) {
                Some(column) => column,
                None => {
                    columns.push(key.clone());
                    cells.push(None);
                    columns.len() - 1
                }
            };
            if cells[column].replace(value).is_some() {
                return Err(InputError::DuplicateKey { row, line, key });
            }
        }
        rows.push(cells);
    }
    if rows.is_empty() {
        return Err(InputError::Empty {
            format: InputFormat::Jsonl,
        });
    }
    for row in &mut rows {
        row.resize(columns.len(), None);
    }
    Ok(InputTable { columns, rows })
}

/// What went wrong reading one JSONL line, before its row and line are known.
enum LineError {
    NotAnObject(&'static str),
    Invalid { column: usize, message: String },
}

impl LineError {
    fn at(self, row: usize, line: usize) -> InputError {
        match self {
            LineError::NotAnObject(found) => InputError::NotAnObject { row, line, found },
            LineError::Invalid { column, message } => InputError::InvalidJson {
                row,
                line,
                column,
                message,
            },
        }
    }
}

/// The key–value pairs of the JSON object on `line`, in their order, each
/// value as the text the table holds.
fn read_object(line: &str) -> Result<Vec<(String, String)>, LineError> {
    let Entries(entries) = serde_json::from_str::<Entries>(line).map_err(|error| {
        if serde_json::from_str::<&RawValue>(line).is_ok() {
            return LineError::NotAnObject(json_kind(line));
        }
        let place = format!(" at line {} column {}", error.line(), error.column());
        let message = error.to_string();
        LineError::Invalid {
            // serde_json counts bytes; a person counts characters.
            column: line_and_column(line, error.column().saturating_sub(1)).1,
            message: message.strip_suffix(&place).unwrap_or(&message).to_owned(),
        }
    })?;
    let values = entries.into_iter().map(|(key, value)| {
        let text = match value.get().as_bytes()[0] {
            b'"' => {
                serde_json::from_str::<String>(value.get()).expect("a JSON string reads as one")
            }
            _ => value.get().to_owned(),
        };
        (key, text)
    });
    Ok(values.collect())
}

/// What kind of value the valid JSON `text` is, for a person: "an array", …
fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A JSON object's entries in the order written (serde_json's own map would
/// sort them), each value kept as its raw JSON.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// The JSON form of a table, checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableJson {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl TryFrom<TableJson> for InputTable {
    type Error = TableEditError;

    fn try_from(json: TableJson) -> Result<InputTable, TableEditError> {
        InputTable::from_rows(json.columns, json.rows)
    }
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn csv(text: &str) -> Result<InputTable, InputError> {
        InputTable::parse(text.as_bytes(), InputFormat::Csv)
    }

    fn jsonl(text: &str) -> Result<InputTable, InputError> {
        InputTable::parse(text.as_bytes(), InputFormat::Jsonl)
    }

    fn cells(table: &InputTable) -> Vec<Vec<Option<&str>>> {
        (table.rows().iter())
            .map(|row| row.iter().map(Option::as_deref).collect())
            .collect()
    }

    #[test]
    fn reads_csv_with_quotes_line_breaks_crlf_bom_and_a_trailing_newline() {
        let text = "\u{feff}question,context\r\n\"What is 2+2?\",\"Reply with \"\"just\"\" a number,\r\nplease\"\r\nplain,\r\n";
        let table = csv(text).unwrap();
        assert_eq!(table.columns(), ["question", "context"]);
        assert_eq!(
            cells(&table),
            [
                vec![
                    Some("What is 2+2?"),
                    Some("Reply with \"just\" a number,\r\nplease")
                ],
                vec![Some("plain"), Some("")],
            ]
        );
    }

    #[test]
    fn header_names_are_trimmed_and_a_header_alone_is_an_empty_table() {
        let table = csv("name , country\n").unwrap();
        assert_eq!(table.columns(), ["name", "country"]);
        assert!(table.rows().is_empty());
    }

    #[test]
    fn a_ragged_row_names_its_row_line_and_counts() {
        let error = csv("a,b,c\n1,2,3\n\"multi\nline\",5\n").unwrap_err();
        assert_eq!(
            error,
            InputError::Ragged {
                row: 2,
                line: 3,
                expected: 3,
                found: 2
            }
        );
        assert_eq!(
            error.to_string(),
            "row 2 (line 3) has 2 cells, but the header names 3 columns"
        );
    }

    #[test]
    fn an_unterminated_quote_names_where_it_opened() {
        let error = csv("a,b\n1,2\n3,\"never closed\n4,5\n").unwrap_err();
        assert_eq!(
            error,
            InputError::UnterminatedQuote {
                row: 2,
                column: 2,
                line: 3
            }
        );
        assert!(error
            .to_string()
            .starts_with("the quote opening row 2, column 2 (line 3) is never closed"));
        let error = csv("\"a,b\n1,2\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the quote opening the header, column 1"),
            "{error}"
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_refused() {
        let error = csv("a\n\"say \"hi\"\"\n").unwrap_err();
        assert_eq!(
            error,
            InputError::TextAfterQuote {
                row: 1,
                column: 1,
                line: 2,
                character: 7
            }
        );
        assert!(error.to_string().contains("must be doubled"), "{error}");
    }

    #[test]
    fn bad_utf8_is_refused_with_its_place_and_the_fix() {
        let mut bytes = b"name\nJos".to_vec();
        bytes.push(0xE9); // Latin-1 é
        bytes.extend(b"\n");
        let error = InputTable::parse(&bytes, InputFormat::Csv).unwrap_err();
        assert_eq!(
            error,
            InputError::NotUtf8 {
                line: 2,
                column: 4,
                byte: 9
            }
        );
        let message = error.to_string();
        assert!(message.contains("line 2, column 4"), "{message}");
        assert!(message.contains("save it as UTF-8"), "{message}");
    }

    #[test]
    fn utf16_is_recognised_with_or_without_its_byte_order_mark() {
        let utf16: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let with_bom = [&[0xFF, 0xFE][..], &utf16].concat();
        assert_eq!(
            InputTable::parse(&with_bom, InputFormat::Csv).unwrap_err(),
            InputError::Utf16
        );
        let big_endian = [&[0xFE, 0xFF][..], b"\0a"].concat();
        assert_eq!(
            InputTable::parse(&big_endian, InputFormat::Jsonl).unwrap_err(),
            InputError::Utf16
        );
        assert!(InputError::Utf16.to_string().contains("UTF-16"));
        let error = InputTable::parse(&utf16, InputFormat::Csv).unwrap_err();
        assert_eq!(error, InputError::NulCharacter { line: 1, column: 2 });
        assert!(error.to_string().contains("probably UTF-16"), "{error}");
    }

    #[test]
    fn header_names_must_be_present_and_unique() {
        assert_eq!(
            csv("a,,c\n1,2,3\n").unwrap_err(),
            InputError::EmptyName { row: 0, column: 2 }
        );
        let error = csv("a,b,a\n").unwrap_err();
        assert_eq!(
            error,
            InputError::DuplicateName {
                name: "a".into(),
                first: 1,
                second: 3
            }
        );
        assert_eq!(
            error.to_string(),
            "columns 1 and 3 of the header are both named a: column names must be unique"
        );
        assert_eq!(
            csv("").unwrap_err().to_string(),
            "the file is empty: its first line must name the columns"
        );
        assert_eq!(
            jsonl("\n\n").unwrap_err().to_string(),
            "the file is empty: it must hold one JSON object per line"
        );
    }

    #[test]
    fn reads_jsonl_keys_in_order_and_values_as_text() {
        let text = concat!(
            "{\"zeta\": \"plain\", \"alpha\": 1.50, \"nested\": {\"k\": [1, 2]}}\r\n",
            "\n",
            "{\"alpha\": true, \"extra\": null, \"zeta\": \"with \\\"quotes\\\"\\n\"}\n",
            "   \n",
            "{\"zeta\": \"\"}"
        );
        let table = jsonl(text).unwrap();
        assert_eq!(table.columns(), ["zeta", "alpha", "nested", "extra"]);
        assert_eq!(
            cells(&table),
            [
                vec![Some("plain"), Some("1.50"), Some("{\"k\": [1, 2]}"), None],
                vec![Some("with \"quotes\"\n"), Some("true"), None, Some("null")],
                vec![Some(""), None, None, None],
            ]
        );
    }

    #[test]
    fn jsonl_errors_name_the_row_line_and_column() {
        let error = jsonl("{\"a\": 1}\n\n[1, 2]\n").unwrap_err();
        assert_eq!(
            error,
            InputError::NotAnObject {
                row: 2,
                line: 3,
                found: "an array"
            }
        );
        assert!(error.to_string().contains("not a JSON object"), "{error}");
        assert_eq!(
            jsonl("\"text\"").unwrap_err(),
            InputError::NotAnObject {
                row: 1,
                line: 1,
                found: "a string"
            }
        );
        let error = jsonl("{\"a\": 1}\n{\"é\": x}\n").unwrap_err();
        let InputError::InvalidJson {
            row,
            line,
            column,
            message,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!((*row, *line, *column), (2, 2, 7));
        assert_eq!(message, "expected value");
        assert_eq!(
            error.to_string(),
            "row 2 (line 2), column 7 is not valid JSON: expected value"
        );
        assert_eq!(
            jsonl("{\"a\": 1, \"a\": 2}").unwrap_err(),
            InputError::DuplicateKey {
                row: 1,
                line: 1,
                key: "a".into()
            }
        );
        assert_eq!(
            jsonl("{\"a\": 1, \" \": 2}").unwrap_err(),
            InputError::EmptyName { row: 1, column: 2 }
        );
    }

    #[test]
    fn detects_the_format_from_content_and_file_name() {
        assert_eq!(
            InputFormat::detect(b"\xEF\xBB\xBF \n{\"a\":1}"),
            InputFormat::Jsonl
        );
        assert_eq!(InputFormat::detect(b"a,b\n"), InputFormat::Csv);
        assert_eq!(InputFormat::detect(b""), InputFormat::Csv);
        assert_eq!(
            InputFormat::from_file_name("in.JSONL"),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            InputFormat::from_file_name("in.ndjson"),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            InputFormat::from_file_name("data.csv"),
            Some(InputFormat::Csv)
        );
        assert_eq!(InputFormat::from_file_name("data.txt"), None);
        assert_eq!(InputFormat::from_file_name("csv"), None);
    }

    #[test]
    fn edits_change_the_table_and_refusals_change_nothing() {
        let mut table = csv("a,b\n1,2\n").unwrap();
        table.set_cell(0, 1, "two").unwrap();
        let row = table.add_row();
        table.set_cell(row, 0, "3").unwrap();
        let column = table.add_column("c").unwrap();
        assert_eq!(column, 2);
        table.rename_column(0, "first").unwrap();
        assert_eq!(table.columns(), ["first", "b", "c"]);
        assert_eq!(
            cells(&table),
            [
                vec![Some("1"), Some("two"), Some("")],
                vec![Some("3"), Some(""), Some("")]
            ]
        );
        let before = table.clone();
        assert_eq!(
            table.set_cell(5, 0, "x").unwrap_err().to_string(),
            "there is no row 6: the table has 2 rows"
        );
        assert_eq!(
            table.set_cell(0, 3, "x").unwrap_err(),
            TableEditError::NoSuchColumn {
                index: 3,
                columns: 3
            }
        );
        assert_eq!(
            table.add_column("b").unwrap_err(),
            TableEditError::DuplicateName("b".into())
        );
        assert_eq!(
            table.add_column(" ").unwrap_err(),
            TableEditError::EmptyName
        );
        assert_eq!(
            table.rename_column(1, "first").unwrap_err(),
            TableEditError::DuplicateName("first".into())
        );
        assert!(table.remove_row(2).is_err());
        assert!(table.remove_column(3).is_err());
        assert_eq!(table, before, "refused edits change nothing");
        table.rename_column(1, "b").unwrap();
        assert_eq!(table, before, "a column may keep its own name");

        assert_eq!(table.remove_column(1).unwrap(), "b");
        assert_eq!(
            table.remove_row(0).unwrap(),
            [Some("1".to_owned()), Some(String::new())]
        );
        assert_eq!(table.columns(), ["first", "c"]);
        assert_eq!(cells(&table), [vec![Some("3"), Some("")]]);
        assert_eq!(table.cell(0, 0), Some("3"));
        assert_eq!(table.column_index("c"), Some(1));
    }

    #[test]
    fn json_form_is_checked_on_the_way_in() {
        let table = csv("a,b\n1,2\n").unwrap();
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"columns": ["a", "b"], "rows": [["1", "2"]]})
        );
        assert_eq!(serde_json::from_value::<InputTable>(json).unwrap(), table);
        let error = serde_json::from_value::<InputTable>(
            serde_json::json!({"columns": ["a", "b"], "rows": [["1"]]}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("row 1 has 1 cells, but there are 2 columns"),
            "{error}"
        );
        assert!(serde_json::from_value::<InputTable>(
            serde_json::json!({"columns": ["a", "a"], "rows": []})
        )
        .is_err());
    }

    fn cell_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(","),
                Just("\""),
                Just("\r\n"),
                Just("\n"),
                Just("\r"),
                Just(" "),
                Just("a"),
                Just("é"),
                Just("="),
                Just("{")
            ],
            0..6,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn to_csv_reads_back_as_the_same_table(
            width in 1usize..4,
            rows in proptest::collection::vec(proptest::collection::vec(cell_text(), 4), 0..6),
        ) {
            let columns: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            let rows: Vec<Vec<Option<String>>> = (rows.into_iter())
                .map(|row| row.into_iter().take(width).map(Some).collect())
                .collect();
            let table = InputTable::from_rows(columns, rows).unwrap();
            let read = InputTable::parse(table.to_csv().as_bytes(), InputFormat::Csv).unwrap();
            prop_assert_eq!(read, table);
        }
    }
}
