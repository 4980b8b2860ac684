use proptest::prelude::*;

use super::*;
use crate::ids::{FeatureId, MilestoneId, RepositoryName};

fn feature(repository: &str, touches: &[&str]) -> Feature {
    Feature {
        id: FeatureId::new("F"),
        title: "a feature".to_owned(),
        milestone: MilestoneId::new("m1"),
        repository: RepositoryName::new(repository),
        description: String::new(),
        skill: None,
        preconditions: Vec::new(),
        expected_behavior: Vec::new(),
        verification: Vec::new(),
        fulfills: Vec::new(),
        touches: touches
            .iter()
            .map(|pattern| (*pattern).to_owned())
            .collect(),
        estimate_minutes: None,
        steps: Vec::new(),
        fix: None,
    }
}

fn strings(patterns: &[&str]) -> Vec<String> {
    patterns
        .iter()
        .map(|pattern| (*pattern).to_owned())
        .collect()
}

#[test]
fn overlapping_patterns() {
    let cases = [
        ("src/api/**", "src/api/users.rs"),
        ("src/api", "src/api/users.rs"),
        ("src", "src/api/**"),
        ("src/**", "src/**"),
        ("README.md", "README.md"),
        ("**", "docs/guide.md"),
        ("**/*.rs", "docs/guide.md"),
        ("src/*.rs", "src/main.rs"),
        ("src/*.rs", "src/lib.rs/inner"),
        ("src/*.rs", "src/*"),
        ("src/a*", "src/*.rs"),
        ("src/?.rs", "src/docs"),
        ("src/[ab].rs", "src/c.rs"),
        ("src/{api,web}/**", "src/db"),
        ("src/\\*", "src/x"),
        ("./src/", "src/main.rs"),
        ("/src", "src"),
        ("", "anything/at/all"),
        ("migrations/*.sql", "migrations/*.sql"),
        ("*.md", "README.md"),
        ("*", "src/main.rs"),
        ("src/*/mod.rs", "src/api/mod.rs"),
        ("src/*.rs.bak", "src/*.bak"),
    ];
    for (left, right) in cases {
        assert!(
            patterns_overlap(left, right),
            "{left} and {right} should overlap"
        );
        assert!(
            patterns_overlap(right, left),
            "{right} and {left} should overlap"
        );
    }
}

#[test]
fn disjoint_patterns() {
    let cases = [
        ("src/api/**", "src/web/**"),
        ("src/api", "src/web"),
        ("README.md", "CHANGELOG.md"),
        ("docs/**", "src/**"),
        ("migrations/*.sql", "migrations/README.md"),
        ("migrations/*.sql", "src/*.sql"),
        ("src/*.rs", "src/*.md"),
        ("src/*.rs", "src/docs"),
        ("src/a*", "src/b*"),
        ("*.md", "src"),
        ("src/*/mod.rs", "src/api/lib.rs"),
        ("src/api/users.rs", "src/api/orders.rs"),
        ("./docs/", "/src/"),
    ];
    for (left, right) in cases {
        assert!(
            !patterns_overlap(left, right),
            "{left} and {right} should be disjoint"
        );
        assert!(
            !patterns_overlap(right, left),
            "{right} and {left} should be disjoint"
        );
    }
}

#[test]
fn normalizing_drops_what_names_nothing() {
    assert_eq!(normalize_pattern("./src//api/"), "src/api");
    assert_eq!(normalize_pattern("/README.md"), "README.md");
    assert_eq!(normalize_pattern("/"), "**");
    assert_eq!(normalize_pattern(""), "**");
    assert_eq!(normalize_pattern("src/**"), "src/**");
}

#[test]
fn first_literal_groups_patterns() {
    assert_eq!(
        TouchPattern::parse("src/api/**").first_literal(),
        Some("src")
    );
    assert_eq!(
        TouchPattern::parse("./README.md").first_literal(),
        Some("README.md")
    );
    assert_eq!(TouchPattern::parse("*.md").first_literal(), None);
    assert_eq!(TouchPattern::parse("**/x").first_literal(), None);
}

#[test]
fn a_feature_without_touches_conflicts_with_its_repository_only() {
    let everything = feature("app", &[]);
    let docs = feature("app", &["docs/**"]);
    let elsewhere = feature("infra", &[]);
    assert!(features_conflict(&everything, &docs));
    assert!(features_conflict(&docs, &everything));
    assert!(!features_conflict(&everything, &elsewhere));
    assert!(!features_conflict(&elsewhere, &docs));
}

#[test]
fn features_conflict_when_any_pair_of_patterns_overlaps() {
    let api = feature("app", &["src/api/**", "docs/api.md"]);
    let web = feature("app", &["src/web/**", "docs/web.md"]);
    let api_docs = feature("app", &["src/web/**", "docs/api.md"]);
    assert!(!features_conflict(&api, &web));
    assert!(features_conflict(&api, &api_docs));
    assert!(features_conflict(&web, &api_docs));
}

#[test]
fn same_touches_in_different_repositories_do_not_conflict() {
    let app = feature("app", &["src/**"]);
    let infra = feature("infra", &["src/**"]);
    assert!(!features_conflict(&app, &infra));
}

#[test]
fn touches_lists_overlap_like_features() {
    assert!(touches_overlap(&[], &strings(&["src"])));
    assert!(!touches_overlap(
        &strings(&["a", "b"]),
        &strings(&["c", "d/**"])
    ));
    assert!(touches_overlap(
        &strings(&["a", "b"]),
        &strings(&["c", "b/x"])
    ));
}

#[test]
fn the_matcher_covers_directories_and_keeps_stars_in_a_component() {
    let matcher = TouchMatcher::new(&strings(&["src/api", "*.md", "migrations/*.sql"])).unwrap();
    assert!(matcher.is_match("src/api"));
    assert!(matcher.is_match("src/api/users/list.rs"));
    assert!(!matcher.is_match("src/apis.rs"));
    assert!(matcher.is_match("README.md"));
    assert!(!matcher.is_match("docs/guide.md"));
    assert!(matcher.is_match("migrations/0001_init.sql"));
    assert!(!matcher.is_match("migrations/old/0001_init.sql.txt"));

    let recursive = TouchMatcher::new(&strings(&["src/**", "**/*.rs"])).unwrap();
    assert!(recursive.is_match("src/a/b/c"));
    assert!(recursive.is_match("lib.rs"));
    assert!(recursive.is_match("deep/down/lib.rs"));
    assert!(!recursive.is_match("docs/guide.md"));

    let everything = TouchMatcher::new(&[]).unwrap();
    assert!(everything.is_match("any/path"));
}

#[test]
fn the_matcher_names_a_bad_pattern() {
    let error = TouchMatcher::new(&strings(&["src/**", "src/[a"])).unwrap_err();
    assert_eq!(error.pattern, "src/[a");
}

const PATTERN_COMPONENTS: &[&str] = &[
    "src",
    "api",
    "docs",
    "a",
    "b",
    "README.md",
    "main.rs",
    "x.sql",
    "a.rs",
    "*",
    "*.rs",
    "*.md",
    "*.sql",
    "a*",
    "a*.rs",
    "src*",
    "**",
    "?.rs",
    "{a,b}",
    "[ab]",
    "[ab]*",
];

const PATH_COMPONENTS: &[&str] = &[
    "src",
    "api",
    "docs",
    "a",
    "b",
    "ab",
    "README.md",
    "main.rs",
    "x.sql",
    "a.rs",
    "b.md",
    "x",
    "srcs",
    "{a,b}",
    "*",
];

fn pattern_strategy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(PATTERN_COMPONENTS), 1..=4),
        prop::sample::select(&["", "./", "/"][..]),
        any::<bool>(),
    )
        .prop_map(|(components, lead, trailing_slash)| {
            let mut pattern = format!("{lead}{}", components.join("/"));
            if trailing_slash {
                pattern.push('/');
            }
            pattern
        })
}

/// A path built to follow `pattern` where the choices let it, so that both matchers
/// accept it often enough for the soundness check to bite.
fn path_following(pattern: &str, choices: &[u8]) -> String {
    let mut choices = choices.iter().copied().cycle();
    let mut next = move || usize::from(choices.next().unwrap_or(0));
    let mut path: Vec<String> = Vec::new();
    for component in normalize_pattern(pattern).split('/') {
        match Component::parse(component) {
            Component::Literal(literal) => path.push(literal),
            Component::Star { prefix, suffix } => {
                let filler = ["", "x", "a", ".rs", "b."][next() % 5];
                let component = format!("{prefix}{filler}{suffix}");
                // A path has no empty components.
                if component.is_empty() {
                    path.push("x".to_owned());
                } else {
                    path.push(component);
                }
            }
            Component::Wild => {
                for _ in 0..next() % 3 {
                    path.push(PATH_COMPONENTS[next() % PATH_COMPONENTS.len()].to_owned());
                }
            }
        }
    }
    for _ in 0..next() % 3 {
        path.push(PATH_COMPONENTS[next() % PATH_COMPONENTS.len()].to_owned());
    }
    path.retain(|component| !component.is_empty());
    if path.is_empty() {
        path.push("x".to_owned());
    }
    path.join("/")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn overlap_is_symmetric(a in pattern_strategy(), b in pattern_strategy()) {
        prop_assert_eq!(patterns_overlap(&a, &b), patterns_overlap(&b, &a));
    }

    #[test]
    fn a_pattern_overlaps_itself(a in pattern_strategy()) {
        prop_assert!(patterns_overlap(&a, &a));
    }

    #[test]
    fn overlap_is_sound(
        a in pattern_strategy(),
        b in pattern_strategy(),
        choices in prop::collection::vec(any::<u8>(), 1..12),
        random_path in prop::collection::vec(prop::sample::select(PATH_COMPONENTS), 1..=4),
    ) {
        let matcher_a = TouchMatcher::new(std::slice::from_ref(&a)).unwrap();
        let matcher_b = TouchMatcher::new(std::slice::from_ref(&b)).unwrap();
        let paths = [
            path_following(&a, &choices),
            path_following(&b, &choices),
            random_path.join("/"),
        ];
        for path in paths {
            if matcher_a.is_match(&path) && matcher_b.is_match(&path) {
                prop_assert!(
                    patterns_overlap(&a, &b),
                    "{} and {} both cover {} but were reported disjoint", a, b, path
                );
            }
        }
    }

    #[test]
    fn a_path_built_from_a_pattern_is_covered_by_it(
        a in pattern_strategy(),
        choices in prop::collection::vec(any::<u8>(), 1..12),
    ) {
        // Keeps the soundness check honest: the generated paths really hit the globs.
        let path = path_following(&a, &choices);
        let has_unanalysed_component = normalize_pattern(&a)
            .split('/')
            .any(|component| Component::parse(component) == Component::Wild);
        if !has_unanalysed_component {
            prop_assert!(TouchMatcher::new(std::slice::from_ref(&a)).unwrap().is_match(&path));
        }
    }
}
