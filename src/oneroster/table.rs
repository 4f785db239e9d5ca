//! One CSV file of a set, as OneRoster 1.1 lays it out: the header checked against the file's
//! columns (every column present, in the specification's order, plus `metadata.*` extension
//! columns), then each row streamed with its physical line, its `status` and `dateLastModified`
//! checked as the file's mode (bulk or delta) requires, and its fields read by column.

use super::problem::Problems;
use crate::core::snapshot::values::shown;
use csv::{ByteRecord, StringRecord};
use std::collections::HashMap;
use std::io::Read;

/// One column of a file as the specification defines it.
pub(super) struct Column {
    pub name: &'static str,
    /// A row must give a value (OneRoster 1.1 "Required").
    pub required: bool,
}

pub(super) const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

pub(super) const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

/// The columns every data file starts with (OneRoster 1.1 CSV §2.1: the first is the row's
/// `sourcedId`, then `status` and `dateLastModified`).
pub(super) const SOURCED_ID: usize = 0;

/// How the manifest says a file is sent (`file.X`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// The full content of the file: `status` and `dateLastModified` may be blank.
    Bulk,
    /// Only what changed: every row gives `status` and `dateLastModified`.
    Delta,
}

/// A row's `status` (OneRoster 1.1 StatusType); blank in a bulk file means `active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    /// `tobedeleted`, or the deprecated `inactive`: left out of a bulk set (CONTRACT §4); in a delta,
    /// the row's class or enrollment goes.
    Gone,
}

/// The file's header mapped onto its specification.
struct Header {
    /// For each specification column, its position in the file (None: the file lacks it).
    positions: Vec<Option<usize>>,
    /// Extension columns by name, with their position.
    extensions: HashMap<String, usize>,
    width: usize,
}

/// One data row, borrowed while its file is read.
pub(super) struct Row<'a> {
    pub file: &'static str,
    pub line: u64,
    pub status: Status,
    /// `dateLastModified` as given (RFC 3339), when given and valid.
    pub modified: Option<&'a str>,
    columns: &'static [Column],
    header: &'a Header,
    record: &'a StringRecord,
}

impl<'a> Row<'a> {
    /// The field of specification column `col`, "" when blank or when the file lacks the column.
    pub(super) fn get(&self, col: usize) -> &'a str {
        self.header.positions[col]
            .and_then(|at| self.record.get(at))
            .unwrap_or("")
    }

    /// The field of an extension column, "" when blank or absent.
    pub(super) fn extension(&self, name: &str) -> &'a str {
        self.header
            .extensions
            .get(name)
            .and_then(|at| self.record.get(*at))
            .unwrap_or("")
    }

    /// The field of a column the row must fill; a blank one is reported (unless the file lacks
    /// the column altogether, which its header already reported).
    pub(super) fn required(&self, col: usize, problems: &mut Problems) -> Option<&'a str> {
        let value = self.get(col);
        if value.trim().is_empty() {
            if self.header.positions[col].is_some() {
                self.report(problems, col, "required field is empty");
            }
            None
        } else {
            Some(value)
        }
    }

    pub(super) fn report(&self, problems: &mut Problems, col: usize, message: impl Into<String>) {
        problems.report(self.file, Some(self.line), self.columns[col].name, message);
    }

    /// A required field that must be one of `allowed` (OneRoster enumerations are case-sensitive).
    pub(super) fn enumeration(
        &self,
        col: usize,
        allowed: &[&'static str],
        problems: &mut Problems,
    ) -> Option<&'static str> {
        let value = self.required(col, problems)?;
        match allowed.iter().find(|a| **a == value) {
            Some(a) => Some(a),
            None => {
                let case = match allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                    true => " (OneRoster values are case-sensitive)",
                    false => "",
                };
                self.report(
                    problems,
                    col,
                    format!("`{}` is not one of {}{case}", shown(value), listed(allowed)),
                );
                None
            }
        }
    }

    /// An optional date (`YYYY-MM-DD`, OneRoster 1.1 Date); reported when given and malformed.
    pub(super) fn date(&self, col: usize, problems: &mut Problems) {
        let value = self.get(col);
        if !value.is_empty() && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
            self.report(
                problems,
                col,
                format!("`{}` is not a date of the form YYYY-MM-DD", shown(value)),
            );
        }
    }

    /// An optional boolean (`true` / `false`; spreadsheets write `TRUE`, which is taken too).
    pub(super) fn boolean(&self, col: usize, problems: &mut Problems) {
        let value = self.get(col);
        if !value.is_empty()
            && !value.eq_ignore_ascii_case("true")
            && !value.eq_ignore_ascii_case("false")
        {
            self.report(
                problems,
                col,
                format!("`{}` is not `true` or `false`", shown(value)),
            );
        }
    }

    /// A list of sourcedIds (comma-separated in one field), each trimmed; an empty item is reported.
    pub(super) fn ids(&self, col: usize, problems: &mut Problems) -> Vec<&'a str> {
        let value = self.get(col);
        if value.trim().is_empty() {
            return Vec::new();
        }
        let ids: Vec<&str> = value.split(',').map(str::trim).collect();
        if ids.iter().any(|id| id.is_empty()) {
            self.report(
                problems,
                col,
                format!(
                    "`{}` has an empty item in its comma-separated list",
                    shown(value)
                ),
            );
            return ids.into_iter().filter(|id| !id.is_empty()).collect();
        }
        ids
    }
}

/// `a`, `b` or `c`, for messages.
pub(super) fn listed(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Reads one file: checks its header, then hands each row whose shape is right to `each`.
/// Returns an I/O error only when the stream itself fails (a damaged zip, a read error).
pub(super) fn read_table(
    source: &mut dyn Read,
    file: &'static str,
    columns: &'static [Column],
    mode: Mode,
    problems: &mut Problems,
    mut each: impl FnMut(&Row, &mut Problems),
) -> std::io::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LfLines::new(source));
    let mut bytes = ByteRecord::new();
    let Some((header, _)) = next_record(&mut reader, &mut bytes, file, problems)? else {
        problems.report(
            file,
            Some(1),
            "-",
            "the file is empty: a header row is required",
        );
        return Ok(());
    };
    let header = read_header(&header, file, columns, problems);
    while let Some((record, line)) = next_record(&mut reader, &mut bytes, file, problems)? {
        // The row's buffers go round again for the next one: no allocation a row.
        let record = Recycled {
            record: Some(record),
            into: &mut bytes,
        };
        let record = record.get();
        if record.len() != header.width {
            let column = match record.len() < header.width {
                true => header_name(&header, columns, record.len()),
                false => "-".to_string(),
            };
            problems.report(
                file,
                Some(line),
                &column,
                format!(
                    "the row has {} fields but the header has {}; the row was not read",
                    record.len(),
                    header.width
                ),
            );
            continue;
        }
        let mut row = Row {
            file,
            line,
            status: Status::Active,
            modified: None,
            columns,
            header: &header,
            record,
        };
        row.status = status(&row, mode, problems);
        row.modified = modified(&row, mode, problems);
        each(&row, problems);
    }
    Ok(())
}

/// A row's record, handed back as the byte buffer of the next read when dropped.
struct Recycled<'a> {
    record: Option<StringRecord>,
    into: &'a mut ByteRecord,
}

impl Recycled<'_> {
    fn get(&self) -> &StringRecord {
        self.record.as_ref().expect("held until dropped")
    }
}

impl Drop for Recycled<'_> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            *self.into = record.into_byte_record();
        }
    }
}

/// The stream with each CRLF line break read as LF, keeping where the blank lines are. The csv
/// reader counts a line at each `\n` but notes where a row starts before it has consumed the `\n`
/// of a CRLF that ended the row before (so in CRLF files, what Windows tools write, every row
/// would be placed a line early), and before the blank lines it skips. A `\r` not followed by
/// `\n` is passed on as it is.
pub(super) struct LfLines<R> {
    inner: std::io::BufReader<R>,
    /// Bytes handed out so far.
    offset: u64,
    /// Whether the last byte handed out was `\n` (or none was yet): a `\n` now is a blank line.
    at_line_start: bool,
    /// The blank lines not yet passed by the rows read, as runs: (offset of the first one's `\n`,
    /// how many follow it, one byte each). Runs, not offsets: a file of a billion blank lines
    /// holds one entry, not eight gigabytes.
    blanks: std::collections::VecDeque<(u64, u64)>,
}

impl<R: Read> LfLines<R> {
    pub(super) fn new(inner: R) -> Self {
        LfLines {
            inner: std::io::BufReader::with_capacity(64 * 1024, inner),
            offset: 0,
            at_line_start: true,
            blanks: std::collections::VecDeque::new(),
        }
    }

    /// How many blank lines start at byte `at` (where the csv reader says a row starts); forgets
    /// those before it.
    fn blank_lines_at(&mut self, at: u64) -> u64 {
        while let Some((start, count)) = self.blanks.front_mut() {
            if *start + *count <= at {
                self.blanks.pop_front();
            } else {
                if *start < at {
                    // The run began before `at`: what lies before is passed.
                    *count -= at - *start;
                    *start = at;
                }
                break;
            }
        }
        match self.blanks.front() {
            Some((start, count)) if *start == at => *count,
            _ => 0,
        }
    }

    fn emit(&mut self, b: u8) {
        if b == b'\n' {
            if self.at_line_start {
                match self.blanks.back_mut() {
                    Some((start, count)) if *start + *count == self.offset => *count += 1,
                    _ => self.blanks.push_back((self.offset, 1)),
                }
            }
            self.at_line_start = true;
        } else {
            self.at_line_start = false;
        }
        self.offset += 1;
    }
}

impl<R: Read> Read for LfLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let mut out = 0;
        while out < buf.len() {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                break;
            }
            if avail == b"\r" {
                // A `\r` that ends the buffer: what follows decides whether it is half a CRLF.
                self.inner.consume(1);
                if self.inner.fill_buf()?.first() != Some(&b'\n') {
                    buf[out] = b'\r';
                    self.emit(b'\r');
                    out += 1;
                }
                continue;
            }
            let mut used = 0;
            let first = out;
            while used < avail.len() && out < buf.len() {
                let b = avail[used];
                if b == b'\r' {
                    match avail.get(used + 1) {
                        Some(b'\n') => {
                            used += 1;
                            continue;
                        }
                        Some(_) => {}
                        // Left for the next round, where it is the whole buffer.
                        None => break,
                    }
                }
                buf[out] = b;
                out += 1;
                used += 1;
            }
            self.inner.consume(used);
            for b in &buf[first..out] {
                self.emit(*b);
            }
            if out > 0 {
                break;
            }
        }
        Ok(out)
    }
}

/// The physical line a record starts on: where the csv reader says, past the blank lines it skipped.
pub(super) fn line_of<R: Read>(
    reader: &mut csv::Reader<LfLines<R>>,
    position: Option<&csv::Position>,
) -> u64 {
    let Some(position) = position else {
        return 0;
    };
    position.line() + reader.get_mut().blank_lines_at(position.byte())
}

/// The next record as text with its line, skipping (and reporting) one that is not UTF-8.
fn next_record<R: Read>(
    reader: &mut csv::Reader<LfLines<R>>,
    bytes: &mut ByteRecord,
    file: &'static str,
    problems: &mut Problems,
) -> std::io::Result<Option<(StringRecord, u64)>> {
    loop {
        match reader.read_byte_record(bytes) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => match e.into_kind() {
                csv::ErrorKind::Io(e) => return Err(e),
                other => {
                    // The csv reader reports only I/O and UTF-8 errors when it is flexible and
                    // reads bytes; anything else is still a problem of the file, not ours.
                    problems.report(file, None, "-", format!("cannot read the CSV: {other:?}"));
                    return Ok(None);
                }
            },
        }
        let line = line_of(reader, bytes.position());
        let first = bytes.position().is_some_and(|p| p.record() == 0);
        if first && bytes.get(0).is_some_and(|f| f.starts_with(b"\xEF\xBB\xBF")) {
            // A byte-order mark (Windows tools write one) carries no meaning: dropped, not refused.
            let fields: Vec<Vec<u8>> = bytes
                .iter()
                .enumerate()
                .map(|(i, f)| if i == 0 { f[3..].to_vec() } else { f.to_vec() })
                .collect();
            let position = bytes.position().cloned();
            *bytes = ByteRecord::from(fields);
            bytes.set_position(position);
        }
        match StringRecord::from_byte_record(std::mem::take(bytes)) {
            Ok(record) => return Ok(Some((record, line))),
            Err(e) => {
                let field = e.utf8_error().field();
                problems.report(
                    file,
                    Some(line),
                    &format!("field {}", field + 1),
                    "the text is not UTF-8; the row was not read",
                );
            }
        }
    }
}

fn read_header(
    record: &StringRecord,
    file: &'static str,
    columns: &'static [Column],
    problems: &mut Problems,
) -> Header {
    let mut positions = vec![None; columns.len()];
    let mut extensions = HashMap::new();
    let mut last_known: Option<usize> = None;
    let mut out_of_order_reported = false;
    for (at, name) in record.iter().enumerate() {
        if let Some(col) = columns.iter().position(|c| c.name == name) {
            if positions[col].is_some() {
                problems.report(
                    file,
                    Some(1),
                    name,
                    "the column appears twice in the header",
                );
                continue;
            }
            positions[col] = Some(at);
            if let Some(before) = last_known
                && before > col
                && !out_of_order_reported
            {
                problems.report(
                    file,
                    Some(1),
                    name,
                    format!(
                        "the column is out of order: OneRoster 1.1 puts it before `{}`",
                        columns[before].name
                    ),
                );
                out_of_order_reported = true;
            }
            last_known = Some(last_known.map_or(col, |b| b.max(col)));
        } else if name.starts_with("metadata.") && name.len() > "metadata.".len() {
            if extensions.insert(name.to_string(), at).is_some() {
                problems.report(
                    file,
                    Some(1),
                    name,
                    "the column appears twice in the header",
                );
            }
        } else {
            let near = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| {
                    format!(
                        " (did you mean `{}`? column names are case-sensitive)",
                        c.name
                    )
                })
                .unwrap_or_default();
            problems.report(
                file,
                Some(1),
                name,
                format!(
                    "unknown column: OneRoster 1.1 {file} has no such column{near}; extension columns are named `metadata.…`"
                ),
            );
        }
    }
    for (col, at) in positions.iter().enumerate() {
        if at.is_none() {
            let what = if columns[col].required {
                "a required column"
            } else {
                "a column (it may be left blank, but its header must be there)"
            };
            problems.report(
                file,
                Some(1),
                columns[col].name,
                format!("missing column: OneRoster 1.1 {file} has {what}"),
            );
        }
    }
    Header {
        positions,
        extensions,
        width: record.len(),
    }
}

/// The header's name at position `at`, for a row that ends before it.
fn header_name(header: &Header, columns: &'static [Column], at: usize) -> String {
    if let Some(col) = header.positions.iter().position(|p| *p == Some(at)) {
        return columns[col].name.to_string();
    }
    header
        .extensions
        .iter()
        .find(|(_, p)| **p == at)
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| "-".to_string())
}

const STATUS: usize = 1;
const DATE_LAST_MODIFIED: usize = 2;

fn status(row: &Row, mode: Mode, problems: &mut Problems) -> Status {
    match (row.get(STATUS), mode) {
        ("", Mode::Bulk) | ("active", _) => Status::Active,
        ("tobedeleted" | "inactive", _) => Status::Gone,
        ("", Mode::Delta) => {
            if row.header.positions[STATUS].is_some() {
                row.report(
                    problems,
                    STATUS,
                    "required field is empty: every row of a delta file gives its status (`active` or `tobedeleted`)",
                );
            }
            Status::Active
        }
        (other, _) => {
            row.report(
                problems,
                STATUS,
                format!(
                    "`{}` is not a status: expected `active`, `tobedeleted` or `inactive`",
                    shown(other)
                ),
            );
            Status::Active
        }
    }
}

fn modified<'a>(row: &Row<'a>, mode: Mode, problems: &mut Problems) -> Option<&'a str> {
    let value = row.get(DATE_LAST_MODIFIED);
    if value.is_empty() {
        if mode == Mode::Delta && row.header.positions[DATE_LAST_MODIFIED].is_some() {
            row.report(
                problems,
                DATE_LAST_MODIFIED,
                "required field is empty: every row of a delta file gives its dateLastModified",
            );
        }
        return None;
    }
    if chrono::DateTime::parse_from_rfc3339(value).is_err() {
        row.report(
            problems,
            DATE_LAST_MODIFIED,
            format!(
                "`{}` is not a date and time of the form 2025-09-01T08:30:00.000Z (OneRoster 1.1 DateTime, ISO 8601 with its time zone)",
                shown(value)
            ),
        );
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oneroster::problem::Problem;

    const COLUMNS: &[Column] = &[
        req("sourcedId"),
        opt("status"),
        opt("dateLastModified"),
        req("title"),
        opt("grades"),
    ];

    fn read(text: &str, mode: Mode) -> (Vec<(u64, String, String)>, Vec<Problem>) {
        let mut problems = Problems::default();
        let mut rows = Vec::new();
        read_table(
            &mut text.as_bytes(),
            "x.csv",
            COLUMNS,
            mode,
            &mut problems,
            |row, p| {
                let title = row.required(3, p).unwrap_or("").to_string();
                rows.push((row.line, row.get(SOURCED_ID).to_string(), title));
            },
        )
        .expect("read");
        (rows, problems.into_sorted())
    }

    fn shown_problems(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rows_come_with_their_physical_lines() {
        let text = "\u{feff}sourcedId,status,dateLastModified,title,grades\r\n\
                    a,,,\"Two\nlines\",\r\n\
                    \r\n\
                    b,active,2025-09-01T08:30:00.000Z,B,07\r\n";
        let (rows, problems) = read(text, Mode::Bulk);
        assert_eq!(shown_problems(&problems), Vec::<String>::new());
        assert_eq!(
            rows,
            vec![
                (2, "a".into(), "Two\nlines".into()),
                (5, "b".into(), "B".into())
            ]
        );
    }

    #[test]
    fn header_problems() {
        let text = "sourcedId,title,status,Grades,metadata.ump.targets,extra\na,A,,,,\n";
        let (rows, problems) = read(text, Mode::Bulk);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            shown_problems(&problems),
            vec![
                "x.csv:1: status: the column is out of order: OneRoster 1.1 puts it before `title`",
                "x.csv:1: Grades: unknown column: OneRoster 1.1 x.csv has no such column (did you mean `grades`? column names are case-sensitive); extension columns are named `metadata.…`",
                "x.csv:1: extra: unknown column: OneRoster 1.1 x.csv has no such column; extension columns are named `metadata.…`",
                "x.csv:1: dateLastModified: missing column: OneRoster 1.1 x.csv has a column (it may be left blank, but its header must be there)",
                "x.csv:1: grades: missing column: OneRoster 1.1 x.csv has a column (it may be left blank, but its header must be there)",
            ]
        );
    }

    #[test]
    fn row_problems() {
        let text = "sourcedId,status,dateLastModified,title,grades\n\
                    a,gone,2025-09-01,,\n\
                    b,active\n\
                    c,,,C,,extra\n\
                    d,,,D,\n";
        let (rows, problems) = read(text, Mode::Bulk);
        assert_eq!(
            rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            vec!["a", "d"]
        );
        assert_eq!(
            shown_problems(&problems),
            vec![
                "x.csv:2: status: `gone` is not a status: expected `active`, `tobedeleted` or `inactive`",
                "x.csv:2: dateLastModified: `2025-09-01` is not a date and time of the form 2025-09-01T08:30:00.000Z (OneRoster 1.1 DateTime, ISO 8601 with its time zone)",
                "x.csv:2: title: required field is empty",
                "x.csv:3: dateLastModified: the row has 2 fields but the header has 5; the row was not read",
                "x.csv:4: -: the row has 6 fields but the header has 5; the row was not read",
            ]
        );
    }

    #[test]
    fn a_delta_row_gives_its_status_and_date() {
        let text = "sourcedId,status,dateLastModified,title,grades\na,,,A,\nb,tobedeleted,2025-09-01T08:30:00Z,B,\n";
        let (_, problems) = read(text, Mode::Delta);
        assert_eq!(
            shown_problems(&problems),
            vec![
                "x.csv:2: status: required field is empty: every row of a delta file gives its status (`active` or `tobedeleted`)",
                "x.csv:2: dateLastModified: required field is empty: every row of a delta file gives its dateLastModified",
            ]
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_reported_at_its_field() {
        let mut text = b"sourcedId,status,dateLastModified,title,grades\na,,,".to_vec();
        text.extend_from_slice(b"\xff\xfe,\nb,,,B,\n");
        let mut problems = Problems::default();
        let mut seen = Vec::new();
        read_table(
            &mut text.as_slice(),
            "x.csv",
            COLUMNS,
            Mode::Bulk,
            &mut problems,
            |row, _| seen.push(row.get(0).to_string()),
        )
        .expect("read");
        assert_eq!(seen, vec!["b"]);
        assert_eq!(
            shown_problems(&problems.into_sorted()),
            vec!["x.csv:2: field 4: the text is not UTF-8; the row was not read"]
        );
    }

    #[test]
    fn crlf_rows_are_on_their_own_lines() {
        let text = "sourcedId,status,dateLastModified,title,grades\r\na,,,A,\r\nb,,,\"B\r\nB\",\r\nc,,,\"C\r\",\r\n";
        let (rows, problems) = read(text, Mode::Bulk);
        assert_eq!(shown_problems(&problems), Vec::<String>::new());
        assert_eq!(
            rows,
            vec![
                (2, "a".into(), "A".into()),
                (3, "b".into(), "B\nB".into()),
                (5, "c".into(), "C\r".into())
            ]
        );
        // Whatever the reads' sizes, a CRLF split between two of them is still one line break.
        for size in 1..8 {
            let mut lf = LfLines::new(Chunked(text.as_bytes(), size));
            let mut all = String::new();
            lf.read_to_string(&mut all).expect("read");
            assert_eq!(all, text.replace("\r\n", "\n"), "reads of {size}");
        }
    }

    /// A reader that hands out at most `.1` bytes a read.
    struct Chunked<'a>(&'a [u8], usize);

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn runs_of_blank_lines_keep_rows_on_their_lines_in_constant_memory() {
        let blank = 200_000;
        let text = format!(
            "sourcedId,status,dateLastModified,title,grades\n\n\na,,,A,\n{}b,,,B,\n\r\n\nc,,,C,\n",
            "\n".repeat(blank)
        );
        let (rows, problems) = read(&text, Mode::Bulk);
        assert_eq!(shown_problems(&problems), Vec::<String>::new());
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![4, 5 + blank as u64, 8 + blank as u64]);
        // Read through: a whole run of blank lines is one entry.
        let mut lf = LfLines::new("h\n\n\n\n\nx\n\n".as_bytes());
        std::io::copy(&mut lf, &mut std::io::sink()).expect("read");
        assert_eq!(lf.blanks.len(), 2, "{:?}", lf.blanks);
        assert_eq!(lf.blank_lines_at(2), 4);
        assert_eq!(
            lf.blank_lines_at(4),
            2,
            "a run entered halfway counts from there"
        );
        assert_eq!(lf.blank_lines_at(8), 1);
        assert_eq!(lf.blank_lines_at(9), 0);
    }

    #[test]
    fn an_empty_file_has_no_header() {
        let (_, problems) = read("", Mode::Bulk);
        assert_eq!(
            shown_problems(&problems),
            vec!["x.csv:1: -: the file is empty: a header row is required"]
        );
    }
}
