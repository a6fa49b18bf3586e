//! The batch metadata sheet, `intake/metadata.csv`, in the Archivematica convention: a
//! header row whose first column is `filename` and whose other columns are term names
//! (`dc.title`, `dcterms.spatial`, a column repeated for several values), then one row
//! per item.
//!
//! Pure: parses bytes handed to it; no filesystem.
//!
//! About 460 lines of code and 240 of unit tests beside it: the header, the rows and
//! the error positions are one reader's parts, and read best together.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::dublin_core::{DublinCore, Term, UnknownTerm};

/// A parsed sheet: one row per described item, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    pub rows: Vec<SheetRow>,
    /// Each row's item name in NFC, to its index in `rows`: a lookup, not a pass over
    /// every row with a normalisation each.
    by_name: HashMap<String, usize>,
}

/// One item's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// The line the row starts on (1-based), for messages.
    pub line: usize,
    /// The item's name as written, with any `objects/` prefix and trailing `/` removed.
    pub item: String,
    pub record: DublinCore,
}

impl Sheet {
    /// The row describing `item_name`, comparing names in Unicode NFC.
    ///
    /// macOS file systems may hand back a name decomposed (NFD: `e` + combining grave)
    /// that the spreadsheet holds composed (NFC: `è`), or the reverse; both are the same
    /// name to the person who typed them. The stored strings are not changed.
    pub fn row_for(&self, item_name: &str) -> Option<&SheetRow> {
        self.by_name
            .get(&nfc_key(item_name))
            .and_then(|&i| self.rows.get(i))
    }

    fn new(rows: Vec<SheetRow>) -> Sheet {
        let by_name = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (nfc_key(&r.item), i))
            .collect();
        Sheet { rows, by_name }
    }
}

/// True when two item names are the same after Unicode NFC normalisation.
pub fn same_item_name(a: &str, b: &str) -> bool {
    a == b || a.nfc().eq(b.nfc())
}

thread_local! {
    /// Normalisations done by this thread: the sheet's regression guard counts them
    /// (tests below), since a quadratic path shows as rows² normalisations.
    static NORMALISATIONS: Cell<u64> = const { Cell::new(0) };
}

/// A name in NFC, as a key for the sheet's lookups.
fn nfc_key(name: &str) -> String {
    NORMALISATIONS.with(|n| n.set(n.get() + 1));
    name.nfc().collect()
}

/// One reason the sheet was refused. Line and column numbers are 1-based; a line is the
/// one a (possibly multi-line, quoted) row starts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error(
        "the sheet is empty; its first line must be a header whose first column is `filename`"
    )]
    Empty,

    /// Excel's plain "CSV" export writes the system code page, not UTF-8; the fix is to
    /// choose "CSV UTF-8", so the message says so.
    #[error("line {line}, column {column}: not valid UTF-8 (save the sheet as \"CSV UTF-8\")")]
    NotUtf8 { line: usize, column: usize },

    /// The CSV reader itself gave up (rare: the reader is lenient about quoting).
    #[error("line {line}: cannot read CSV: {message}")]
    Csv { line: usize, message: String },

    #[error("line {line}, column 1: the first column must be `filename`, found \"{found}\"")]
    FirstColumnNotFilename { line: usize, found: String },

    /// A sheet separated by `;`: what spreadsheets write in locales whose decimal mark
    /// is the comma. Read as CSV, the whole header is one cell.
    #[error("line {line}: the header is one cell, \"{found}\": the sheet is separated by `;`, not `,` (a spreadsheet export in a locale that writes decimals with a comma); save it again as CSV with `,` as the field separator (LibreOffice: Save As, Text CSV, Edit filter settings, Field delimiter `,`; Excel: CSV UTF-8 with the list separator set to `,`)")]
    SemicolonSeparated { line: usize, found: String },

    #[error("line {line}, column {column}: `filename` may only be the first column")]
    RepeatedFilename { line: usize, column: usize },

    #[error("line {line}, column {column} (\"{header}\"): {term}")]
    UnknownColumn {
        line: usize,
        column: usize,
        header: String,
        term: UnknownTerm,
    },

    #[error("line {line}, column {column}: has a value but its column has no header")]
    ValueUnderBlankHeader { line: usize, column: usize },

    #[error("line {line}, column {column}: has a value but the header has only {columns} columns (an unquoted comma?)")]
    ExtraField {
        line: usize,
        column: usize,
        columns: usize,
    },

    #[error("line {line}: the filename is empty, so the row describes no item")]
    EmptyFilename { line: usize },

    #[error("line {line}: filename \"{name}\" {reason}")]
    BadFilename {
        line: usize,
        name: String,
        reason: &'static str,
    },

    #[error(
        "line {line}: \"{item}\" already has a row on line {first_line}; an item is described once"
    )]
    DuplicateItem {
        line: usize,
        item: String,
        first_line: usize,
    },
}

/// Every reason the sheet was refused, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetErrors {
    pub errors: Vec<SheetError>,
    /// The rows that could be read despite the errors: not used to archive anything,
    /// only to report every problem of the sheet in one run (their records' problems
    /// too).
    pub rows: Sheet,
}

impl fmt::Display for SheetErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "the metadata sheet has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SheetErrors {}

/// What a header cell turned out to be.
enum Column {
    Term(Term),
    /// A blank header: tolerated while its cells are blank, because spreadsheet exports
    /// often carry empty trailing columns.
    Blank,
    /// An unknown or misplaced header, already reported; its cells are ignored so one bad
    /// header does not produce an error per row.
    Rejected,
}

/// Parses a batch sheet, reporting every problem rather than the first.
///
/// Accepted: UTF-8 with or without a leading byte-order mark (Excel's "CSV UTF-8" writes
/// one), CRLF or LF line ends, quoted cells with commas and line breaks. Header names are
/// matched case-insensitively and stored in DCMI's spelling. Cells are trimmed and blank
/// ones skipped; a row shorter than the header is read as if padded with blank cells;
/// a row with every cell blank is skipped. The filename may carry Archivematica's
/// `objects/` prefix and a trailing `/`; what remains must name one item directly under
/// intake/, so it may not contain `/`. The filename, unlike every other cell, is not
/// trimmed: an item whose name begins or ends with a space must be describable, so names
/// are matched exactly (but for Unicode normalisation); a stray space typed into a
/// spreadsheet is caught by ingest's "names no item" check, which suggests the name
/// without it.
pub fn parse_sheet(bytes: &[u8]) -> Result<Sheet, SheetErrors> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);

    let mut errors = Vec::new();
    let mut columns: Option<Vec<Column>> = None;
    let mut rows: Vec<SheetRow> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::new(body);
    // Item names seen so far in NFC, to their line: the duplicate check.
    let mut seen: HashMap<String, usize> = HashMap::new();

    loop {
        let at = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let at = e.position().map_or(at, |p| p.byte());
                errors.push(SheetError::Csv {
                    line: lines.line_at(at),
                    message: e.to_string(),
                });
                // Reading from a byte slice cannot fail in a way that repeats forever,
                // but stop rather than risk it: the sheet is refused either way.
                break;
            }
        }
        let line = lines.line_at(record.position().map_or(at, |p| p.byte()));
        let cells = decode_cells(&record, line, &mut errors);
        // The filename exactly as written (not UTF-8: reported by decode_cells).
        let name = record.get(0).and_then(|b| std::str::from_utf8(b).ok());
        match &columns {
            None => columns = Some(read_header(&cells, line, &mut errors)),
            Some(cols) => {
                if let Some(row) = read_row(cols, &cells, name, line, &mut seen, &mut errors) {
                    rows.push(row);
                }
            }
        }
    }

    if columns.is_none() {
        errors.push(SheetError::Empty);
    }
    errors.sort_by_key(SheetError::line);
    if errors.is_empty() {
        Ok(Sheet::new(rows))
    } else {
        Err(SheetErrors {
            errors,
            rows: Sheet::new(rows),
        })
    }
}

impl SheetError {
    /// The line the problem is on (0 for the sheet as a whole), for file order.
    pub fn line(&self) -> usize {
        match self {
            SheetError::Empty => 0,
            SheetError::NotUtf8 { line, .. }
            | SheetError::Csv { line, .. }
            | SheetError::FirstColumnNotFilename { line, .. }
            | SheetError::SemicolonSeparated { line, .. }
            | SheetError::RepeatedFilename { line, .. }
            | SheetError::UnknownColumn { line, .. }
            | SheetError::ValueUnderBlankHeader { line, .. }
            | SheetError::ExtraField { line, .. }
            | SheetError::EmptyFilename { line }
            | SheetError::BadFilename { line, .. }
            | SheetError::DuplicateItem { line, .. } => *line,
        }
    }
}

/// Turns byte offsets into 1-based line numbers.
///
/// The csv crate's own line count does not advance on a CRLF that ends a record, nor on
/// skipped blank lines, so line numbers in an Excel-made sheet would be off. Lines are
/// counted here from byte offsets instead: LF, CRLF, or a lone CR (old Mac exports) each
/// end one line.
/// Offsets only grow, so counting resumes where it stopped.
struct LineCounter<'a> {
    body: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a [u8]) -> LineCounter<'a> {
        LineCounter {
            body,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `offset` that is not a line break. The csv
    /// reader reports a record as starting where the previous one stopped, which is
    /// before the line break that ended it and any blank lines it skipped.
    fn line_at(&mut self, offset: u64) -> usize {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.body.len());
        while matches!(self.body.get(target), Some(b'\r' | b'\n')) {
            target += 1;
        }
        if target < self.offset {
            // Never happens (records come in order); restart rather than miscount.
            self.offset = 0;
            self.line = 1;
        }
        for i in self.offset..target {
            match self.body[i] {
                b'\n' => self.line += 1,
                b'\r' if self.body.get(i + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
        }
        self.offset = target;
        self.line
    }
}

/// Each cell as trimmed text, or `None` where it is not UTF-8 (reported here).
fn decode_cells<'r>(
    record: &'r csv::ByteRecord,
    line: usize,
    errors: &mut Vec<SheetError>,
) -> Vec<Option<&'r str>> {
    record
        .iter()
        .enumerate()
        .map(|(i, raw)| match std::str::from_utf8(raw) {
            Ok(s) => Some(s.trim()),
            Err(_) => {
                errors.push(SheetError::NotUtf8 {
                    line,
                    column: i + 1,
                });
                None
            }
        })
        .collect()
}

fn read_header(cells: &[Option<&str>], line: usize, errors: &mut Vec<SheetError>) -> Vec<Column> {
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let column = i + 1;
            let Some(header) = *cell else {
                return Column::Rejected;
            };
            let is_filename = header.eq_ignore_ascii_case("filename");
            if i == 0 {
                if header.to_ascii_lowercase().starts_with("filename;") {
                    errors.push(SheetError::SemicolonSeparated {
                        line,
                        found: header.to_string(),
                    });
                } else if !is_filename {
                    errors.push(SheetError::FirstColumnNotFilename {
                        line,
                        found: header.to_string(),
                    });
                }
                // Column 1 is always the filename; it is never a term.
                return Column::Rejected;
            }
            if is_filename {
                errors.push(SheetError::RepeatedFilename { line, column });
                return Column::Rejected;
            }
            if header.is_empty() {
                return Column::Blank;
            }
            match Term::parse(header) {
                Ok(term) => Column::Term(term),
                Err(term) => {
                    errors.push(SheetError::UnknownColumn {
                        line,
                        column,
                        header: header.to_string(),
                        term,
                    });
                    Column::Rejected
                }
            }
        })
        .collect()
}

fn read_row(
    columns: &[Column],
    cells: &[Option<&str>],
    name: Option<&str>,
    line: usize,
    seen: &mut HashMap<String, usize>,
    errors: &mut Vec<SheetError>,
) -> Option<SheetRow> {
    // Cells that were not UTF-8 are already reported; count them as non-blank so the row
    // is not mistaken for an empty one and its other problems are still found.
    if cells.iter().all(|c| c.is_some_and(str::is_empty)) {
        return None;
    }
    for (i, cell) in cells.iter().enumerate().skip(columns.len()) {
        if cell.is_some_and(|c| !c.is_empty()) {
            errors.push(SheetError::ExtraField {
                line,
                column: i + 1,
                columns: columns.len(),
            });
        }
    }

    let mut record = DublinCore::new();
    for (i, (column, cell)) in columns.iter().zip(cells).enumerate().skip(1) {
        let Some(value) = cell.filter(|c| !c.is_empty()) else {
            continue;
        };
        match column {
            Column::Term(term) => record.push(*term, value),
            Column::Blank => errors.push(SheetError::ValueUnderBlankHeader {
                line,
                column: i + 1,
            }),
            Column::Rejected => {}
        }
    }

    // A filename that was not UTF-8 is already reported; one of blanks only is empty.
    let raw = name?;
    let item = raw.strip_prefix("objects/").unwrap_or(raw);
    let item = item.strip_suffix('/').unwrap_or(item);
    let problem = if item.trim().is_empty() {
        errors.push(SheetError::EmptyFilename { line });
        return None;
    } else if item.contains('/') {
        Some("must name one item directly under intake/ (a folder or a lone file), so it may not contain `/`")
    } else if item == "." || item == ".." {
        Some("is not an item name")
    } else {
        None
    };
    if let Some(reason) = problem {
        errors.push(SheetError::BadFilename {
            line,
            name: raw.to_string(),
            reason,
        });
        return None;
    }
    match seen.entry(nfc_key(item)) {
        std::collections::hash_map::Entry::Occupied(first) => {
            errors.push(SheetError::DuplicateItem {
                line,
                item: item.to_string(),
                first_line: *first.get(),
            });
            return None;
        }
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(line);
        }
    }
    Some(SheetRow {
        line,
        item: item.to_string(),
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regression guard for the quadratic sheet (issue 17): parsing a 50,000-row
    /// sheet and looking up every row normalises each name a bounded number of times.
    /// Counts operations, not time, so it cannot flake on a loaded machine; the old
    /// pairwise duplicate check did rows² / 2 comparisons of two normalisations each.
    #[test]
    fn sheet_work_is_linear_in_rows() {
        let count = || NORMALISATIONS.with(Cell::get);
        for rows in [5_000usize, 50_000] {
            let mut csv = String::from("filename,dc.title\n");
            for i in 0..rows {
                csv.push_str(&format!("item-{i:06}-proc\u{e8}s,Record {i}\n"));
            }
            let before = count();
            let sheet = parse_sheet(csv.as_bytes()).expect("parses");
            for i in (0..rows).rev() {
                // Decomposed (NFD), as macOS hands names back.
                let name = format!("item-{i:06}-proce\u{300}s");
                assert_eq!(sheet.row_for(&name).map(|r| r.line), Some(i + 2));
            }
            let work = count() - before;
            // One normalisation for the duplicate check and one for the lookup table per
            // row, one per lookup.
            assert!(
                work <= 3 * rows as u64,
                "{work} normalisations for {rows} rows and {rows} lookups"
            );
        }
    }

    const SAMPLE: &[u8] = include_bytes!("../../samples/s21/metadata.csv");

    fn t(name: &str) -> Term {
        Term::parse(name).expect("known term")
    }

    fn errors_of(bytes: &[u8]) -> Vec<SheetError> {
        parse_sheet(bytes)
            .expect_err("sheet should be refused")
            .errors
    }

    #[test]
    fn sample_sheet_parses() {
        let sheet = parse_sheet(SAMPLE).expect("sample parses");
        assert_eq!(sheet.rows.len(), 6);
        let items: Vec<&str> = sheet.rows.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(
            items,
            [
                "intake portraits",
                "confession-record-transcription",
                "ទួលស្លែង",
                "dc-cam-documentation",
                "choeung-ek",
                "chronologie-procès.txt",
            ]
        );
        assert_eq!(sheet.rows[0].line, 2);
        for row in &sheet.rows {
            assert_eq!(row.record.values(t("dc.subject")).len(), 2, "{}", row.item);
            assert!(row
                .record
                .title()
                .is_some_and(|s| s.starts_with("Sample: ")));
            assert_eq!(row.record.values(t("dcterms.temporal")).len(), 1);
            assert!(
                crate::metadata::validate_record(&row.record).is_empty(),
                "{}",
                row.item
            );
        }
        let portraits = sheet.row_for("intake portraits").expect("row");
        assert_eq!(portraits.record.first(t("dc.type")), Some("StillImage"));
        // Quoted cells with commas and doubled quotes survive.
        let confession = &sheet.rows[1].record;
        assert!(confession
            .first(t("dc.description"))
            .is_some_and(|d| d.contains("Real S-21 \"confessions\" were extracted")));
        assert_eq!(
            confession.first(t("dc.format")),
            Some("text/plain; charset=UTF-8")
        );
    }

    #[test]
    fn bom_and_crlf() {
        // Lone CRs end lines too.
        let sheet = parse_sheet(b"filename,dc.title\ra,A\r\rb,B\r").expect("parses");
        let lines: Vec<usize> = sheet.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);

        let sheet = parse_sheet(b"\xEF\xBB\xBFFileName,DC.Title\r\nobjects/a/,Alpha\r\nb,\"B\r\ntwo lines\"\r\n\r\nc,Gamma\r\n")
            .expect("parses");
        let got: Vec<(&str, usize, Option<&str>)> = sheet
            .rows
            .iter()
            .map(|r| (r.item.as_str(), r.line, r.record.title()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", 2, Some("Alpha")),
                ("b", 3, Some("B\r\ntwo lines")),
                ("c", 6, Some("Gamma"))
            ]
        );
    }

    #[test]
    fn cells_trimmed_blanks_skipped_short_rows_padded() {
        let sheet = parse_sheet(
            b"filename,dc.title,dc.subject,dc.subject,,\n  a  ,  T  ,,  s2 ,,\nb,U\n,,,,,\n",
        )
        .expect("parses");
        assert_eq!(sheet.rows.len(), 2);
        // The filename is kept exactly as written (names are matched exactly).
        assert_eq!(sheet.rows[0].item, "  a  ");
        assert_eq!(sheet.rows[0].record.title(), Some("T"));
        assert_eq!(sheet.rows[0].record.values(t("dc.subject")), ["s2"]);
        assert_eq!(sheet.rows[1].record.len(), 1);
    }

    #[test]
    fn unknown_column_names_number_header_and_suggestion() {
        let errors =
            errors_of(b"filename,dc.title,dc.titel,dcterms.spacial,shelfmark\na,T,x,y,z\n");
        assert_eq!(errors.len(), 3, "{errors:#?}");
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text[0],
            "line 1, column 3 (\"dc.titel\"): unknown metadata term \"dc.titel\"; did you mean dc.title?"
        );
        assert!(text[1].contains("column 4") && text[1].contains("did you mean dcterms.spatial?"));
        assert!(text[2].contains("column 5") && text[2].contains("\"shelfmark\""));
    }

    #[test]
    fn collects_all_row_errors() {
        let bytes = b"filename,dc.title,\n\
            a,A\n\
            ,orphan\n\
            objects/a/,again\n\
            x/y,nested\n\
            ..,dots\n\
            b,B,oops\n\
            c,C,,extra\n\
            d,caf\xE9\n";
        let errors = errors_of(bytes);
        let expected = vec![
            SheetError::EmptyFilename { line: 3 },
            SheetError::DuplicateItem {
                line: 4,
                item: "a".into(),
                first_line: 2,
            },
            SheetError::BadFilename {
                line: 5,
                name: "x/y".into(),
                reason: "must name one item directly under intake/ (a folder or a lone file), so it may not contain `/`",
            },
            SheetError::BadFilename {
                line: 6,
                name: "..".into(),
                reason: "is not an item name",
            },
            SheetError::ValueUnderBlankHeader { line: 7, column: 3 },
            SheetError::ExtraField {
                line: 8,
                column: 4,
                columns: 3,
            },
            SheetError::NotUtf8 { line: 9, column: 2 },
        ];
        assert_eq!(errors, expected);
        let shown = SheetErrors {
            errors,
            rows: Sheet::default(),
        }
        .to_string();
        assert!(
            shown.starts_with("the metadata sheet has 7 problems:\n  line 3:"),
            "{shown}"
        );
        assert!(shown.contains("save the sheet as \"CSV UTF-8\""));
    }

    #[test]
    fn header_must_start_with_filename() {
        let errors = errors_of(b"dc.title,filename\nT,a\n");
        assert_eq!(
            errors,
            [
                SheetError::FirstColumnNotFilename {
                    line: 1,
                    found: "dc.title".into()
                },
                SheetError::RepeatedFilename { line: 1, column: 2 },
            ]
        );
        assert_eq!(errors_of(b""), [SheetError::Empty]);
        assert_eq!(errors_of(b"\xEF\xBB\xBF"), [SheetError::Empty]);
    }

    #[test]
    fn nfc_matching_of_item_names() {
        let nfc = "chronologie-proc\u{e8}s.txt";
        let nfd = "chronologie-proce\u{300}s.txt";
        let sheet =
            parse_sheet(format!("filename,dc.title\n{nfd},T\n").as_bytes()).expect("parses");
        // Stored as written, matched either way.
        assert_eq!(sheet.rows[0].item, nfd);
        assert!(sheet.row_for(nfc).is_some());
        assert!(sheet.row_for(nfd).is_some());
        assert!(sheet.row_for("chronologie-proces.txt").is_none());
        assert!(same_item_name(nfc, nfd));
        // Two rows that differ only in normalisation name one item.
        let errors = errors_of(format!("filename,dc.title\n{nfc},A\n{nfd},B\n").as_bytes());
        assert!(matches!(
            errors[..],
            [SheetError::DuplicateItem {
                line: 3,
                first_line: 2,
                ..
            }]
        ));
    }

    #[test]
    fn invalid_utf8_in_header_and_filename() {
        let errors = errors_of(b"filename,dc.t\xFFitle\n\xFF,T\n");
        assert_eq!(
            errors,
            [
                SheetError::NotUtf8 { line: 1, column: 2 },
                SheetError::NotUtf8 { line: 2, column: 1 },
            ]
        );
    }
}
