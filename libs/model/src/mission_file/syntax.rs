//! TOML syntax errors, with the field they are in when the parser got that far.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::DiagnosticCode;
use super::source::{FieldPath, Sink};

pub(crate) fn report_syntax_error(
    error: &toml::de::Error,
    document: &Spanned<DeTable<'_>>,
    text: &str,
    sink: &mut Sink<'_>,
) {
    let span = error.span().unwrap_or(0..0);
    let mut message = error.message().trim_end_matches('.').to_owned();
    let mut path = path_at(document.get_ref(), span.start, &FieldPath::root());
    // The parser says "duplicate key" without the key; its span points at it.
    if message == "duplicate key"
        && let Some(key) = text.get(span.clone()).filter(|key| !key.is_empty())
    {
        let quoted = if key.starts_with(['"', '\'']) {
            key.to_owned()
        } else {
            format!("{key:?}")
        };
        message = format!("duplicate key {quoted}: a key or table may be defined only once");
        // The second definition is not in the tree; name it in the table it was written in.
        if path.is_none() {
            path = Some(table_before(document, span.start).key(key.trim_matches(['"', '\''])));
        }
    }
    let path = path.unwrap_or_else(|| table_before(document, span.start));
    sink.report(
        DiagnosticCode::Syntax,
        span,
        &path,
        format!("invalid TOML: {message}"),
    );
}

/// The innermost field whose key or value contains `offset`.
fn path_at(table: &DeTable<'_>, offset: usize, path: &FieldPath) -> Option<FieldPath> {
    for (key, value) in table {
        let key_path = path.key(key.get_ref());
        if contains(&key.span(), offset) {
            return Some(key_path);
        }
        if let Some(inner) = value_path_at(value, offset, &key_path) {
            return Some(inner);
        }
    }
    None
}

fn value_path_at(
    value: &Spanned<DeValue<'_>>,
    offset: usize,
    path: &FieldPath,
) -> Option<FieldPath> {
    let inner = match value.get_ref() {
        DeValue::Table(table) => path_at(table, offset, path),
        DeValue::Array(array) => array
            .iter()
            .enumerate()
            .find_map(|(index, element)| value_path_at(element, offset, &path.index(index))),
        _ => None,
    };
    inner.or_else(|| contains(&value.span(), offset).then(|| path.clone()))
}

/// The table the text at `offset` belongs to: the one whose header or key comes last
/// before it.
fn table_before(document: &Spanned<DeTable<'_>>, offset: usize) -> FieldPath {
    let mut best = (0, FieldPath::root());
    collect_table_starts(document.get_ref(), &FieldPath::root(), offset, &mut best);
    best.1
}

fn collect_table_starts(
    table: &DeTable<'_>,
    path: &FieldPath,
    offset: usize,
    best: &mut (usize, FieldPath),
) {
    for (key, value) in table {
        let start = key.span().start;
        if start <= offset && start >= best.0 {
            *best = (start, path.clone());
        }
        collect_value_starts(value, &path.key(key.get_ref()), offset, best);
    }
}

fn collect_value_starts(
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    offset: usize,
    best: &mut (usize, FieldPath),
) {
    match value.get_ref() {
        DeValue::Table(table) => {
            let start = value.span().start;
            if start <= offset && start >= best.0 && value.span().end > 0 {
                *best = (start, path.clone());
            }
            collect_table_starts(table, path, offset, best);
        }
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                collect_value_starts(element, &path.index(index), offset, best);
            }
        }
        _ => {}
    }
}

/// Inclusive of the end: an error "at the end of the string" is still about it.
fn contains(span: &std::ops::Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset <= span.end && span.end > 0
}
