//! Whether a worker changed only the paths its feature promised to touch.

use sortie_model::touches::TouchMatcher;

use crate::error::{GitError, GitResult};

/// The paths no pattern of `touches` covers, in the order given. A feature without
/// touches may change anything. What a pattern covers is the model's [`TouchMatcher`]'s
/// definition, the one the scheduler's overlap test is sound against.
pub fn paths_outside(touches: &[String], paths: &[String]) -> GitResult<Vec<String>> {
    let matcher = TouchMatcher::new(touches)
        .map_err(|error| GitError::invalid("touches pattern", &error.pattern, error.reason))?;
    Ok(paths
        .iter()
        .filter(|path| !matcher.is_match(path))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn no_touches_allow_everything() {
        let outside = paths_outside(&[], &strings(&["a", "b/c"])).unwrap();
        assert!(outside.is_empty());
    }

    #[test]
    fn paths_no_pattern_covers_are_reported() {
        let touches = strings(&["src/api/**", "migrations/*.sql", "README.md", "docs"]);
        let paths = strings(&[
            "src/api/routes.rs",
            "src/api/v1/users.rs",
            "migrations/001.sql",
            "migrations/nested/002.sql",
            "README.md",
            "docs/guide.md",
            "src/main.rs",
        ]);
        let outside = paths_outside(&touches, &paths).unwrap();
        assert_eq!(
            outside,
            strings(&["migrations/nested/002.sql", "src/main.rs"])
        );
    }

    #[test]
    fn a_bad_pattern_is_a_bad_request() {
        let error = paths_outside(&strings(&["src/[a"]), &strings(&["x"])).unwrap_err();
        assert_eq!(error.kind(), sortie_model::ErrorKind::BadRequest);
    }
}
