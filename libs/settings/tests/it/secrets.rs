use sortie_settings::{SecretUrl, SettingsSources};

use crate::TempSettingsFile;

#[test]
fn settings_debug_never_shows_passwords_or_tokens() {
    let file = TempSettingsFile::new(
        "[database]\nurl = \"postgres://postgres:hunter2@db.internal:5432/sortie\"\n",
    );
    let settings = SettingsSources::new()
        .file(file.path())
        .environment([
            ("SORTIE__NATS__TOKEN", "nats-token-42"),
            ("SORTIE__NATS__URL", "nats://alice:wonderland@bus:4222"),
        ])
        .load()
        .expect("settings load");
    let debug = format!("{settings:?}");
    let pretty_debug = format!("{settings:#?}");
    for printed in [&debug, &pretty_debug] {
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("nats-token-42"), "{printed}");
        assert!(!printed.contains("wonderland"), "{printed}");
    }
    assert!(
        debug.contains("postgres://postgres:***@db.internal:5432/sortie"),
        "{debug}"
    );
    assert!(debug.contains("nats://alice:***@bus:4222"), "{debug}");
    assert_eq!(
        settings.database.url.to_string(),
        "postgres://postgres:***@db.internal:5432/sortie"
    );
    assert_eq!(
        settings
            .nats
            .token
            .as_ref()
            .map(|token| token.expose_secret()),
        Some("nats-token-42")
    );
}

#[test]
fn sources_debug_never_shows_values() {
    let sources = SettingsSources::new()
        .environment([("SORTIE__DATABASE__URL", "postgres://u:hunter2@h/d")])
        .flag("nats.token", "flag-token-7");
    let debug = format!("{sources:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("flag-token-7"),
        "{debug}"
    );
}

#[test]
fn errors_show_database_urls_redacted() {
    let error = SettingsSources::new()
        .environment([("SORTIE__DATABASE__URL", "mysql://root:hunter2@db/sortie")])
        .load()
        .expect_err("a mysql URL is refused");
    let message = error.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.starts_with(
            "settings: database.url \"mysql://root:***@db/sortie\" (from SORTIE__DATABASE__URL):"
        ),
        "{message}"
    );
}

#[test]
fn redacted_url_is_what_serialization_shows() {
    let url = SecretUrl::new("postgres://postgres:hunter2@host/db");
    assert_eq!(url.redacted(), "postgres://postgres:***@host/db");
    assert_eq!(format!("{url}"), "postgres://postgres:***@host/db");
    assert_eq!(format!("{url:?}"), "\"postgres://postgres:***@host/db\"");
}
