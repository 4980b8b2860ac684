//! Typed, positioned access to the parsed TOML tree. Every wrong type, missing field and
//! unknown field is reported to the sink, and reading goes on, so one pass finds them all.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::DiagnosticCode;
use super::source::{FieldPath, Located, Sink, Span};
use super::suggest;

/// One table of the file (the whole document, `[settings]`, one `[[features]]`, an
/// inline `check = { ... }`) and where it is.
#[derive(Debug)]
pub(crate) struct TableReader<'doc, 'input> {
    table: &'doc DeTable<'input>,
    /// The header (`[[features]]`) or the inline table; missing fields are reported here.
    span: Span,
    path: FieldPath,
}

/// Integer fields, by the range of values they accept.
pub(crate) trait IntegerField: TryFrom<i64> + Copy {
    const MIN: i64;
    const MAX: i64;
}

impl IntegerField for u16 {
    const MIN: i64 = 0;
    const MAX: i64 = u16::MAX as i64;
}

impl IntegerField for u32 {
    const MIN: i64 = 0;
    const MAX: i64 = u32::MAX as i64;
}

impl IntegerField for u64 {
    const MIN: i64 = 0;
    // TOML integers are 64-bit signed, so no file can say more.
    const MAX: i64 = i64::MAX;
}

impl IntegerField for i32 {
    const MIN: i64 = i32::MIN as i64;
    const MAX: i64 = i32::MAX as i64;
}

impl<'doc, 'input> TableReader<'doc, 'input> {
    /// Reads a table whose fields are `known_fields`; reports every other field.
    pub(crate) fn new(
        table: &'doc DeTable<'input>,
        span: Span,
        path: FieldPath,
        known_fields: &[&str],
        sink: &mut Sink<'_>,
    ) -> Self {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if known_fields.contains(&name) {
                continue;
            }
            let hint = match suggest::closest(name, known_fields.iter().copied()) {
                Some(candidate) => format!(" (did you mean {candidate:?}?)"),
                None => format!("; expected one of: {}", known_fields.join(", ")),
            };
            sink.report(
                DiagnosticCode::UnknownField,
                key.span(),
                &path.key(name),
                format!("unknown field {name:?}{hint}"),
            );
        }
        Self { table, span, path }
    }

    pub(crate) fn path(&self) -> &FieldPath {
        &self.path
    }

    pub(crate) fn span(&self) -> Span {
        self.span.clone()
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(crate) fn value(&self, key: &str) -> Option<&'doc Spanned<DeValue<'input>>> {
        self.table.get(key)
    }

    /// The keys of the table, in the order they are written.
    pub(crate) fn keys(&self) -> Vec<(&'doc str, Span)> {
        let mut keys: Vec<(&'doc str, Span)> = self
            .table
            .keys()
            .map(|key| {
                let name: &'doc str = key.get_ref();
                (name, key.span())
            })
            .collect();
        keys.sort_by_key(|(_, span)| span.start);
        keys
    }

    pub(crate) fn report_missing(&self, key: &str, sink: &mut Sink<'_>, why: &str) {
        sink.report(
            DiagnosticCode::MissingField,
            self.span.clone(),
            &self.path,
            format!("missing field {key:?}{why}"),
        );
    }

    pub(crate) fn optional_string(&self, key: &str, sink: &mut Sink<'_>) -> Option<Located> {
        let value = self.value(key)?;
        as_string(value, &self.path.key(key), sink)
    }

    pub(crate) fn required_string(&self, key: &str, sink: &mut Sink<'_>) -> Option<Located> {
        if !self.has(key) {
            self.report_missing(key, sink, "");
            return None;
        }
        self.optional_string(key, sink)
    }

    /// A required text that must not be blank; a placeholder when it is missing (the
    /// parse has failed then anyway).
    pub(crate) fn required_text(&self, key: &str, sink: &mut Sink<'_>) -> String {
        let Some(located) = self.required_string(key, sink) else {
            return String::new();
        };
        if located.text.trim().is_empty() {
            sink.report_at(
                DiagnosticCode::EmptyValue,
                &located,
                format!("{key:?} must not be empty"),
            );
        }
        located.text
    }

    /// An optional text that, when given, must not be blank.
    pub(crate) fn optional_text(&self, key: &str, sink: &mut Sink<'_>) -> Option<String> {
        let located = self.optional_string(key, sink)?;
        if located.text.trim().is_empty() {
            sink.report_at(
                DiagnosticCode::EmptyValue,
                &located,
                format!("{key:?} must not be empty; leave it out instead"),
            );
        }
        Some(located.text)
    }

    pub(crate) fn optional_bool(&self, key: &str, sink: &mut Sink<'_>) -> Option<bool> {
        let value = self.value(key)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(*flag),
            other => {
                report_wrong_type(value.span(), &self.path.key(key), "a boolean", other, sink);
                None
            }
        }
    }

    pub(crate) fn optional_integer<T: IntegerField>(
        &self,
        key: &str,
        sink: &mut Sink<'_>,
    ) -> Option<Spanned<T>> {
        let value = self.value(key)?;
        let path = self.path.key(key);
        let DeValue::Integer(integer) = value.get_ref() else {
            report_wrong_type(value.span(), &path, "an integer", value.get_ref(), sink);
            return None;
        };
        let parsed = i64::from_str_radix(integer.as_str(), integer.radix())
            .ok()
            .filter(|number| (T::MIN..=T::MAX).contains(number))
            .and_then(|number| T::try_from(number).ok());
        if parsed.is_none() {
            sink.report(
                DiagnosticCode::OutOfRange,
                value.span(),
                &path,
                format!(
                    "{integer} is out of range: expected an integer from {} to {}",
                    T::MIN,
                    T::MAX
                ),
            );
        }
        parsed.map(|number| Spanned::new(value.span(), number))
    }

    pub(crate) fn required_integer<T: IntegerField>(
        &self,
        key: &str,
        sink: &mut Sink<'_>,
    ) -> Option<Spanned<T>> {
        if !self.has(key) {
            self.report_missing(key, sink, "");
            return None;
        }
        self.optional_integer(key, sink)
    }

    /// A list of strings; each wrong element is reported and left out.
    pub(crate) fn string_list(&self, key: &str, sink: &mut Sink<'_>) -> Vec<Located> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let path = self.path.key(key);
        let DeValue::Array(array) = value.get_ref() else {
            report_wrong_type(
                value.span(),
                &path,
                "an array of strings",
                value.get_ref(),
                sink,
            );
            return Vec::new();
        };
        array
            .iter()
            .enumerate()
            .filter_map(|(index, element)| as_string(element, &path.index(index), sink))
            .collect()
    }

    /// A sub-table (`[settings.agents]`, `agents = { ... }` or `check = { ... }`).
    pub(crate) fn optional_table(
        &self,
        key: &str,
        known_fields: &[&str],
        sink: &mut Sink<'_>,
    ) -> Option<TableReader<'doc, 'input>> {
        let value = self.value(key)?;
        let path = self.path.key(key);
        match value.get_ref() {
            DeValue::Table(table) => Some(TableReader::new(
                table,
                value.span(),
                path,
                known_fields,
                sink,
            )),
            other => {
                report_wrong_type(value.span(), &path, "a table", other, sink);
                None
            }
        }
    }

    /// A sub-table read without a list of known fields (a map such as
    /// `[services.commands]`): its entries as (key, value).
    pub(crate) fn optional_map(
        &self,
        key: &str,
        sink: &mut Sink<'_>,
    ) -> Vec<(Located, &'doc Spanned<DeValue<'input>>)> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let path = self.path.key(key);
        let DeValue::Table(table) = value.get_ref() else {
            report_wrong_type(value.span(), &path, "a table", value.get_ref(), sink);
            return Vec::new();
        };
        table
            .iter()
            .map(|(entry_key, entry_value)| {
                let name: &str = entry_key.get_ref();
                let located = Located {
                    text: name.to_owned(),
                    span: entry_key.span(),
                    path: path.key(name),
                };
                (located, entry_value)
            })
            .collect()
    }

    /// An array of tables (`[[features]]`); each element that is not a table is reported.
    pub(crate) fn array_of_tables(
        &self,
        key: &str,
        known_fields: &[&str],
        sink: &mut Sink<'_>,
    ) -> Vec<TableReader<'doc, 'input>> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let path = self.path.key(key);
        let DeValue::Array(array) = value.get_ref() else {
            let expected = format!("an array of tables (`[[{}]]`)", path.header());
            report_wrong_type(value.span(), &path, &expected, value.get_ref(), sink);
            return Vec::new();
        };
        array
            .iter()
            .enumerate()
            .filter_map(|(index, element)| {
                let element_path = path.index(index);
                match element.get_ref() {
                    DeValue::Table(table) => Some(TableReader::new(
                        table,
                        element.span(),
                        element_path,
                        known_fields,
                        sink,
                    )),
                    other => {
                        report_wrong_type(element.span(), &element_path, "a table", other, sink);
                        None
                    }
                }
            })
            .collect()
    }
}

/// A value that must be a string.
pub(crate) fn as_string(
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    sink: &mut Sink<'_>,
) -> Option<Located> {
    match value.get_ref() {
        DeValue::String(text) => Some(Located {
            text: text.to_string(),
            span: value.span(),
            path: path.clone(),
        }),
        other => {
            report_wrong_type(value.span(), path, "a string", other, sink);
            None
        }
    }
}

pub(crate) fn report_wrong_type(
    span: Span,
    path: &FieldPath,
    expected: &str,
    found: &DeValue<'_>,
    sink: &mut Sink<'_>,
) {
    let found_type = found.type_str();
    let article = if found_type.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    sink.report(
        DiagnosticCode::WrongType,
        span,
        path,
        format!("expected {expected}, found {article} {found_type}"),
    );
}
