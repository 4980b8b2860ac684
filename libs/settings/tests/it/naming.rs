//! A setting that weakens a guard says so in its name.

/// Words that mark a setting as weakening a guard.
const GUARD_WEAKENING_WORDS: &[&str] = &[
    "insecure",
    "skip_verify",
    "no_verify",
    "allow_any",
    "disable_auth",
    "no_auth",
    "unauthenticated",
    "trust_all",
    "unsafe",
];

#[test]
fn settings_that_weaken_a_guard_are_named_dangerously() {
    let names = sortie_settings::setting_names();
    assert!(names.contains(&"database.url".to_owned()), "{names:?}");
    assert!(
        names.contains(&"worker.id".to_owned()),
        "unset options are listed too: {names:?}"
    );
    let misnamed: Vec<&String> = names
        .iter()
        .filter(|name| {
            let field = name.rsplit('.').next().unwrap_or_default();
            let weakens_a_guard = GUARD_WEAKENING_WORDS
                .iter()
                .any(|word| field.contains(word));
            weakens_a_guard && !field.starts_with("dangerously_")
        })
        .collect();
    assert!(
        misnamed.is_empty(),
        "settings that weaken a guard must start with dangerously_: {misnamed:?}"
    );
}
