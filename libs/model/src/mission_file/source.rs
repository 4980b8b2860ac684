//! Positions in the source text: field paths, byte spans, lines and columns, and the
//! sink that collects what the parser finds.

use std::fmt;
use std::ops::Range;

use super::diagnostic::{Diagnostic, DiagnosticCode, Diagnostics};

pub(crate) type Span = Range<usize>;

/// Where a value sits in the plan, written the way people read it:
/// `features[3].preconditions[1]` (indices from 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let is_bare = !key.is_empty()
            && key
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character));
        let mut path = self.0.clone();
        if is_bare {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        } else {
            path.push_str(&format!("[{key:?}]"));
        }
        Self(path)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as a TOML table header names it: without indices, since
    /// `[[features.steps]]` adds to the last feature written.
    pub(crate) fn header(&self) -> String {
        let mut header = String::with_capacity(self.0.len());
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('[') {
            header.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find(']') {
                Some(close)
                    if after[..close]
                        .chars()
                        .all(|character| character.is_ascii_digit()) =>
                {
                    rest = &after[close + 1..];
                }
                _ => {
                    header.push('[');
                    rest = after;
                }
            }
        }
        header.push_str(rest);
        header
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A string from the file together with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) text: String,
    pub(crate) span: Span,
    pub(crate) path: FieldPath,
}

/// Byte offsets to 1-based lines and character columns.
#[derive(Debug)]
pub(crate) struct LineIndex<'text> {
    text: &'text str,
    line_starts: Vec<usize>,
}

impl<'text> LineIndex<'text> {
    pub(crate) fn new(text: &'text str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(offset, _)| offset + 1))
            .collect();
        Self { text, line_starts }
    }

    /// The 1-based line and column of a byte offset; offsets past the end or inside a
    /// character are moved back to the nearest character boundary.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_index = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line_index + 1, column)
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }
}

#[derive(Debug)]
struct Report {
    code: DiagnosticCode,
    span: Span,
    field: String,
    message: String,
}

/// Collects every problem found, with byte spans, until they become [`Diagnostics`].
#[derive(Debug)]
pub(crate) struct Sink<'text> {
    lines: LineIndex<'text>,
    reports: Vec<Report>,
}

impl<'text> Sink<'text> {
    pub(crate) fn new(text: &'text str) -> Self {
        Self {
            lines: LineIndex::new(text),
            reports: Vec::new(),
        }
    }

    /// Reports a problem; its severity is the code's.
    pub(crate) fn report(
        &mut self,
        code: DiagnosticCode,
        span: Span,
        field: &FieldPath,
        message: impl Into<String>,
    ) {
        self.reports.push(Report {
            code,
            span,
            field: field.as_str().to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn report_at(
        &mut self,
        code: DiagnosticCode,
        located: &Located,
        message: impl Into<String>,
    ) {
        self.report(code, located.span.clone(), &located.path, message);
    }

    pub(crate) fn line_of(&self, span: &Span) -> usize {
        self.lines.line(span.start)
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.reports
            .iter()
            .any(|report| report.code.severity() == super::Severity::Error)
    }

    pub(crate) fn into_diagnostics(self, file_name: &str) -> Diagnostics {
        let lines = self.lines;
        let items = self
            .reports
            .into_iter()
            .map(|report| {
                let (line, column) = lines.position(report.span.start);
                Diagnostic {
                    severity: report.code.severity(),
                    code: report.code,
                    file: file_name.to_owned(),
                    line,
                    column,
                    span: report.span,
                    field: report.field,
                    message: report.message,
                }
            })
            .collect();
        Diagnostics::new(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\nçé = 1\n\nx";
        let lines = LineIndex::new(text);
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(2), (1, 3));
        assert_eq!(lines.position(3), (2, 1));
        // "çé" is four bytes and two characters.
        assert_eq!(lines.position(7), (2, 3));
        // Inside a character: moved back to its start.
        assert_eq!(lines.position(4), (2, 1));
        assert_eq!(lines.position(text.len()), (4, 2));
        assert_eq!(lines.position(text.len() + 10), (4, 2));
    }

    #[test]
    fn paths_read_like_the_file() {
        let path = FieldPath::root()
            .key("features")
            .index(3)
            .key("preconditions")
            .index(1);
        assert_eq!(path.as_str(), "features[3].preconditions[1]");
        assert_eq!(
            FieldPath::root().key("commands").key("a b").as_str(),
            "commands[\"a b\"]"
        );
        let steps = FieldPath::root().key("features").index(2).key("steps");
        assert_eq!(steps.header(), "features.steps");
    }
}
