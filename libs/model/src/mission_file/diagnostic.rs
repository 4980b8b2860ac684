//! What the mission-file parser reports: one [`Diagnostic`] per problem, each with a
//! stable code, the file, the line and column, and the field path.

use std::fmt;

use crate::error::ErrorKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The mission file is refused.
    Error,
    /// The mission file is accepted; the plan is probably not what its author meant.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

macro_rules! diagnostic_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// A stable code for each kind of problem; `docs/mission-file.md` explains each one.
        /// Codes are never reused or renumbered.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum DiagnosticCode {
            $($(#[$doc])* $variant,)*
        }

        impl DiagnosticCode {
            /// Every code, in order.
            pub const ALL: &'static [DiagnosticCode] = &[$(DiagnosticCode::$variant,)*];

            /// The code as users see it, for example `SM022`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $code,)*
                }
            }

            /// The severity this code is always reported with.
            pub fn severity(self) -> Severity {
                match self {
                    $(DiagnosticCode::$variant => Severity::$severity,)*
                }
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $summary,)*
                }
            }
        }
    };
}

diagnostic_codes! {
    /// Validation passed but the plan could not be built: a bug in Sortie.
    Internal = "SM000", Error, "internal error: the file was valid but could not be converted";
    /// The text is not valid TOML.
    Syntax = "SM001", Error, "invalid TOML syntax";
    UnknownField = "SM002", Error, "unknown field";
    MissingField = "SM003", Error, "a required field is missing";
    WrongType = "SM004", Error, "a value has the wrong type";
    OutOfRange = "SM005", Error, "an integer does not fit the field";
    UnknownVariant = "SM006", Error, "a value is not one of the allowed words";
    EmptyValue = "SM007", Error, "a text that must say something is empty";
    InvalidId = "SM010", Error, "an id or name has invalid syntax";
    DuplicateId = "SM011", Error, "an id or name is defined twice";
    InvalidBranch = "SM012", Error, "an invalid git branch name";
    UnknownMilestone = "SM020", Error, "a feature names a milestone that does not exist";
    UnknownRepository = "SM021", Error, "a feature names a repository that does not exist";
    UnknownFeature = "SM022", Error, "a precondition names a feature that does not exist";
    UnknownAssertion = "SM023", Error, "a feature or a scripted fix names an assertion that does not exist";
    UnknownService = "SM024", Error, "an HTTP check names a service that does not exist";
    InvalidSkillName = "SM025", Error, "a skill name is empty or contains whitespace";
    InvalidMcpServerName = "SM026", Error, "an MCP server name is empty or has characters other than letters, digits, '_' and '-'";
    DependencyCycle = "SM030", Error, "features depend on each other in a cycle";
    PreconditionInLaterMilestone = "SM031", Error, "a feature depends on a feature of a later milestone";
    DuplicateListEntry = "SM032", Warning, "a list names the same thing twice";
    UnfulfilledAssertion = "SM040", Error, "no feature fulfills an assertion";
    FeatureFulfillsNothing = "SM041", Warning, "a feature fulfills no assertion";
    EmptyMilestone = "SM042", Error, "a milestone has no features";
    EmptyPlan = "SM043", Error, "the plan has no milestones, features or repositories";
    UnusedSkill = "SM044", Warning, "a skill defined by the plan is used by no feature";
    InvalidGlob = "SM050", Error, "a `touches` entry is not a valid glob";
    PathOutsideRepository = "SM051", Error, "a `touches` entry or a step's path is absolute or leaves the repository";
    InvalidSetting = "SM060", Error, "a setting or service has a value that cannot work";
    InvalidCheck = "SM061", Error, "an assertion's check cannot work as written";
    InvalidScriptedStep = "SM070", Error, "a step of the scripted agent is malformed";
    StepOutsideTouches = "SM071", Error, "a scripted step changes a file its touches do not cover";
    /// Neither or both of `command` and `url`, a field of the other transport, or a url
    /// that is not http(s).
    InvalidMcpServer = "SM080", Error, "an MCP server cannot be reached as declared";
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One problem found in a mission file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: DiagnosticCode,
    /// The file name the caller gave to [`super::parse`].
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, counted in characters.
    pub column: usize,
    /// Byte offsets of the text the diagnostic is about, for editors.
    pub span: std::ops::Range<usize>,
    /// Where in the plan, for example `features[3].preconditions[1]` (indices from 0);
    /// empty for the document as a whole.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}: {}[{}]: ",
            self.file, self.line, self.column, self.severity, self.code
        )?;
        if !self.field.is_empty() {
            write!(formatter, "{}: ", self.field)?;
        }
        formatter.write_str(&self.message)
    }
}

/// Every diagnostic of one parse, sorted by position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Sorts by position; diagnostics at the same place keep the order they were found in.
    pub(crate) fn new(mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|diagnostic| (diagnostic.line, diagnostic.column));
        Self { items }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Whether any diagnostic has this code.
    pub fn contains(&self, code: DiagnosticCode) -> bool {
        self.items.iter().any(|diagnostic| diagnostic.code == code)
    }

    /// A refused mission file is always the caller's mistake.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::BadRequest
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl<'diagnostics> IntoIterator for &'diagnostics Diagnostics {
    type Item = &'diagnostics Diagnostic;
    type IntoIter = std::slice::Iter<'diagnostics, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.items.iter().enumerate() {
            if index > 0 {
                formatter.write_str("\n")?;
            }
            write!(formatter, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
