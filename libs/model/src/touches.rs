//! Whether two features' path promises overlap.
//!
//! A feature's `touches` are path globs in globset syntax, relative to its repository's
//! root (`src/api/**`, `migrations/*.sql`, `README.md`). What a pattern covers is defined
//! once, by [`TouchMatcher`]: every path the glob matches with `*` and `?` kept inside one
//! path component (only `**` crosses components), and everything below such a path, since
//! a matched path may be a directory. A feature without touches may change anything in its
//! repository.
//!
//! Deciding whether two globs share a path exactly is hard, so [`patterns_overlap`]
//! compares them component by component from the root and answers "overlap" as soon as
//! it cannot prove otherwise cheaply.
//!
//! Invariant: the overlap test is sound. It may report an overlap for patterns that share
//! no path; it never reports patterns as disjoint when some path is covered by both.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::plan::Feature;

/// Characters that may make a glob component match something other than itself. `]`,
/// `}` and `\` are included so that escapes and stray brackets are never read as literals.
const GLOB_METACHARACTERS: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// One path component of a pattern, as far as the overlap test understands it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Component {
    /// Matches exactly this component.
    Literal(String),
    /// `prefix*suffix`: one component that starts with `prefix` and ends with `suffix`.
    Star { prefix: String, suffix: String },
    /// Anything else (`**`, `?`, classes, alternations, escapes): not analysed.
    Wild,
}

impl Component {
    fn parse(text: &str) -> Self {
        if !text.contains(GLOB_METACHARACTERS) {
            return Component::Literal(text.to_owned());
        }
        let star_count = text.matches('*').count();
        let other_metacharacters = text.contains(|character: char| {
            character != '*' && GLOB_METACHARACTERS.contains(&character)
        });
        if star_count != 1 || other_metacharacters {
            return Component::Wild;
        }
        let (prefix, suffix) = text.split_once('*').unwrap_or((text, ""));
        Component::Star {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        }
    }
}

/// What comparing one position of two patterns tells.
enum Comparison {
    /// Some component could match both: look at the next position.
    Compatible,
    /// No component matches both: the patterns are disjoint.
    Disjoint,
    /// Not analysed: assume the patterns overlap.
    Unknown,
}

fn star_matches(prefix: &str, suffix: &str, component: &str) -> bool {
    component.len() >= prefix.len() + suffix.len()
        && component.starts_with(prefix)
        && component.ends_with(suffix)
}

fn compare_components(a: &Component, b: &Component) -> Comparison {
    let compatible = match (a, b) {
        (Component::Wild, _) | (_, Component::Wild) => return Comparison::Unknown,
        (Component::Literal(left), Component::Literal(right)) => left == right,
        (Component::Literal(literal), Component::Star { prefix, suffix })
        | (Component::Star { prefix, suffix }, Component::Literal(literal)) => {
            star_matches(prefix, suffix, literal)
        }
        (
            Component::Star {
                prefix: left_prefix,
                suffix: left_suffix,
            },
            Component::Star {
                prefix: right_prefix,
                suffix: right_suffix,
            },
        ) => {
            // The longer prefix followed by the longer suffix matches both, if they agree.
            let prefixes_agree = left_prefix.starts_with(right_prefix.as_str())
                || right_prefix.starts_with(left_prefix.as_str());
            let suffixes_agree = left_suffix.ends_with(right_suffix.as_str())
                || right_suffix.ends_with(left_suffix.as_str());
            prefixes_agree && suffixes_agree
        }
    };
    if compatible {
        Comparison::Compatible
    } else {
        Comparison::Disjoint
    }
}

/// A pattern in the form every comparison and matcher uses: no leading `/` or `./`, no
/// empty or `.` components, no trailing `/`. A pattern that names nothing below the root
/// (`""`, `/`, `.`) is `**`, the whole repository.
pub fn normalize_pattern(pattern: &str) -> String {
    let components: Vec<&str> = pattern
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
        .collect();
    if components.is_empty() {
        "**".to_owned()
    } else {
        components.join("/")
    }
}

/// One `touches` pattern, split into components once so it can be compared many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchPattern {
    components: Vec<Component>,
}

impl TouchPattern {
    pub fn parse(pattern: &str) -> Self {
        let normalized = normalize_pattern(pattern);
        let components = normalized.split('/').map(Component::parse).collect();
        Self { components }
    }

    /// Whether some path could be covered by both patterns (conservative: see the module).
    pub fn overlaps(&self, other: &TouchPattern) -> bool {
        for (mine, theirs) in self.components.iter().zip(&other.components) {
            match compare_components(mine, theirs) {
                Comparison::Compatible => {}
                Comparison::Disjoint => return false,
                Comparison::Unknown => return true,
            }
        }
        // One pattern is a prefix of the other, and a pattern covers everything below it.
        true
    }

    /// The first component when it is a literal. Patterns whose first literals differ are
    /// disjoint, so the scheduler groups patterns by it.
    pub fn first_literal(&self) -> Option<&str> {
        match self.components.first() {
            Some(Component::Literal(literal)) => Some(literal),
            _ => None,
        }
    }
}

/// Everything a feature may change in its repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touches {
    /// The feature declared no touches: it may change anything.
    Everything,
    /// The feature may change what these patterns cover; never empty.
    Patterns(Vec<TouchPattern>),
}

impl Touches {
    pub fn parse(patterns: &[String]) -> Self {
        if patterns.is_empty() {
            return Touches::Everything;
        }
        Touches::Patterns(
            patterns
                .iter()
                .map(|pattern| TouchPattern::parse(pattern))
                .collect(),
        )
    }

    /// Whether some path could be changed under both promises (conservative).
    pub fn overlaps(&self, other: &Touches) -> bool {
        match (self, other) {
            (Touches::Everything, _) | (_, Touches::Everything) => true,
            (Touches::Patterns(mine), Touches::Patterns(theirs)) => mine
                .iter()
                .any(|pattern| theirs.iter().any(|other| pattern.overlaps(other))),
        }
    }
}

/// Whether two `touches` patterns could cover the same path (conservative).
pub fn patterns_overlap(a: &str, b: &str) -> bool {
    TouchPattern::parse(a).overlaps(&TouchPattern::parse(b))
}

/// Whether two lists of `touches` could cover the same path. An empty list covers
/// everything.
pub fn touches_overlap(a: &[String], b: &[String]) -> bool {
    Touches::parse(a).overlaps(&Touches::parse(b))
}

/// Whether two features may not run at the same time: they work in the same repository
/// and their touches could overlap. Features of different repositories never conflict.
pub fn features_conflict(a: &Feature, b: &Feature) -> bool {
    a.repository == b.repository && touches_overlap(&a.touches, &b.touches)
}

/// A `touches` pattern that globset refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid touches pattern {pattern:?}: {reason}")]
pub struct InvalidTouchPattern {
    pub pattern: String,
    pub reason: String,
}

/// Which paths a feature's `touches` cover: the definition the overlap test is sound
/// against, and the one to check a worker's changed paths with.
#[derive(Clone, Debug)]
pub struct TouchMatcher {
    /// `None` when the feature declared no touches and may change anything.
    globs: Option<GlobSet>,
}

impl TouchMatcher {
    pub fn new(patterns: &[String]) -> Result<Self, InvalidTouchPattern> {
        if patterns.is_empty() {
            return Ok(Self { globs: None });
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let normalized = normalize_pattern(pattern);
            let mut variants = vec![normalized.clone()];
            // A matched path may be a directory: cover everything below it too.
            if normalized != "**" && !normalized.ends_with("/**") {
                variants.push(format!("{normalized}/**"));
            }
            for variant in variants {
                let glob = GlobBuilder::new(&variant)
                    .literal_separator(true)
                    .build()
                    .map_err(|error| InvalidTouchPattern {
                        pattern: pattern.clone(),
                        reason: error.kind().to_string(),
                    })?;
                builder.add(glob);
            }
        }
        let globs = builder.build().map_err(|error| InvalidTouchPattern {
            pattern: error.glob().unwrap_or_default().to_owned(),
            reason: error.kind().to_string(),
        })?;
        Ok(Self { globs: Some(globs) })
    }

    /// Whether the promise covers `path` (relative to the repository root, `/`-separated).
    pub fn is_match(&self, path: &str) -> bool {
        match &self.globs {
            None => true,
            Some(globs) => globs.is_match(path),
        }
    }
}

#[cfg(test)]
mod tests;
