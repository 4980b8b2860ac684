//! The planning lint: advice on a [`Plan`] that is valid but likely to go badly.
//!
//! The mission-file parser refuses plans that cannot work as written and reports each
//! problem at its line. The lint looks at a whole [`Plan`], however it was built (parsed
//! from a file, proposed by the planner, amended in code), and reports what makes a plan
//! slow, hard to validate or unsafe to run in parallel. It is meant to run on every plan
//! the planner proposes. `docs/mission-file.md` ("The planning lint") lists every code.
//!
//! Invariant: every rule is mechanical. A rule reads the plan's fields and nothing else;
//! it never guesses at what a description means.

mod rules;

use std::fmt;

use crate::ids::{AssertionId, FeatureId, MilestoneId};
use crate::mission_file::Severity;
use crate::plan::Plan;

/// A milestone with more features than this is too large to validate in one go.
pub const MAX_FEATURES_PER_MILESTONE: usize = 12;

/// A milestone whose validation must prove more assertions than this is too large.
pub const MAX_ASSERTIONS_PER_MILESTONE: usize = 20;

macro_rules! lint_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// A stable code for each lint rule. Codes are never reused or renumbered.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum LintCode {
            $($(#[$doc])* $variant,)*
        }

        impl LintCode {
            /// Every code, in order.
            pub const ALL: &'static [LintCode] = &[$(LintCode::$variant,)*];

            /// The code as users see it, for example `SL001`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(LintCode::$variant => $code,)*
                }
            }

            /// The severity this code is always reported with.
            pub fn severity(self) -> Severity {
                match self {
                    $(LintCode::$variant => Severity::$severity,)*
                }
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self {
                    $(LintCode::$variant => $summary,)*
                }
            }
        }
    };
}

lint_codes! {
    /// More than [`MAX_FEATURES_PER_MILESTONE`] features or more than
    /// [`MAX_ASSERTIONS_PER_MILESTONE`] assertions to prove at its end.
    MilestoneTooLarge = "SL001", Warning, "a milestone is too large to validate";
    /// No `verification` and no scripted `steps`: the worker has no way to check its work.
    FeatureWithoutVerification = "SL002", Warning, "a feature has no verification steps";
    /// No feature fulfils the assertion, so no milestone ever proves it.
    UnfulfilledAssertion = "SL003", Error, "no feature fulfills an assertion";
    /// A precondition between features of one milestone and repository whose touches
    /// are disjoint, and the later feature never mentions the earlier one.
    NeedlessPrecondition = "SL004", Warning, "a precondition keeps independent features from running in parallel";
    /// An HTTP check names a service the services block does not start, and user-testing
    /// is on.
    HttpCheckWithoutService = "SL005", Error, "an HTTP check names a service that nothing starts";
    /// A feature without touches beside other features of its milestone and repository.
    FeatureWithoutTouches = "SL006", Warning, "a feature has no touches and so runs alone";
}

impl fmt::Display for LintCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LintSubject {
    Milestone(MilestoneId),
    Feature(FeatureId),
    Assertion(AssertionId),
}

impl fmt::Display for LintSubject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LintSubject::Milestone(id) => write!(formatter, "milestone {id}"),
            LintSubject::Feature(id) => write!(formatter, "feature {id}"),
            LintSubject::Assertion(id) => write!(formatter, "assertion {id}"),
        }
    }
}

/// One piece of advice about a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintFinding {
    pub code: LintCode,
    /// Always `code.severity()`; an error means the plan should not be accepted as is.
    pub severity: Severity,
    pub subject: LintSubject,
    /// The field of the subject at fault, for example `preconditions[0]`; empty when the
    /// finding is about the subject as a whole.
    pub field: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl LintFinding {
    pub(crate) fn new(
        code: LintCode,
        subject: LintSubject,
        field: impl Into<String>,
        message: String,
    ) -> Self {
        Self {
            code,
            severity: code.severity(),
            subject,
            field: field.into(),
            message,
        }
    }
}

impl fmt::Display for LintFinding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} [{}] {}",
            self.severity, self.code, self.subject
        )?;
        if !self.field.is_empty() {
            write!(formatter, " {}", self.field)?;
        }
        write!(formatter, ": {}", self.message)
    }
}

/// Every finding about the plan, errors first, then in the order of the rules and of the
/// plan.
pub fn lint(plan: &Plan) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    rules::milestones_too_large(plan, &mut findings);
    rules::features_without_verification(plan, &mut findings);
    rules::unfulfilled_assertions(plan, &mut findings);
    rules::needless_preconditions(plan, &mut findings);
    rules::http_checks_without_service(plan, &mut findings);
    rules::features_without_touches(plan, &mut findings);
    // A stable sort keeps the order of the rules within each severity.
    findings.sort_by_key(|finding| finding.severity);
    findings
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[LintFinding]) -> bool {
    findings
        .iter()
        .any(|finding| finding.severity == Severity::Error)
}
