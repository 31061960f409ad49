//! A CSV export read back as a header and records, with cells found by
//! their column's name (native tests, with the `csv` crate).

/// A CSV file's header and records.
pub struct CsvTable {
    /// The header's names.
    pub header: Vec<String>,
    /// The records, each a cell per column.
    pub rows: Vec<Vec<String>>,
}

impl CsvTable {
    /// Reads `csv`; fails the test when it is not valid CSV.
    pub fn read(csv: &str) -> CsvTable {
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header = (reader.headers().unwrap().iter())
            .map(str::to_owned)
            .collect();
        let rows = (reader.records())
            .map(|record| record.unwrap().iter().map(str::to_owned).collect())
            .collect();
        CsvTable { header, rows }
    }

    /// The cell of record `row` (from 0) in column `name`; fails the test
    /// naming the column when there is none.
    pub fn cell(&self, row: usize, name: &str) -> &str {
        let column = (self.header.iter().position(|held| held == name))
            .unwrap_or_else(|| panic!("no column {name:?} in {:?}", self.header));
        &self.rows[row][column]
    }
}
