use sortie_settings::{Origin, SettingsError, SettingsSources};

use crate::TempSettingsFile;

fn load_error(sources: &SettingsSources) -> SettingsError {
    sources.load().expect_err("settings should be refused")
}

#[test]
fn bad_prefix_from_the_environment_names_setting_and_variable() {
    let error =
        load_error(&SettingsSources::new().environment([("SORTIE__NATS__PREFIX", "my prefix")]));
    assert_eq!(
        error.to_string(),
        "settings: nats.prefix \"my prefix\" (from SORTIE__NATS__PREFIX): \
         only letters, digits, '-' and '_' are allowed"
    );
}

#[test]
fn wrong_type_in_the_file_names_setting_and_file() {
    let file = TempSettingsFile::new("[http]\nport = \"eighty\"\n");
    let error = load_error(&SettingsSources::new().file(file.path()));
    let SettingsError::Invalid { key, origin, .. } = &error else {
        panic!("expected an invalid value, got {error}");
    };
    assert_eq!(key, "http.port");
    assert_eq!(origin, &Origin::File(file.path().to_path_buf()));
    let message = error.to_string();
    assert!(message.contains("http.port \"eighty\""), "{message}");
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn out_of_range_flag_names_the_flag() {
    let error = load_error(&SettingsSources::new().flag("http.port", "70000"));
    let message = error.to_string();
    assert!(
        message.starts_with("settings: http.port \"70000\" (from flag http.port): expected"),
        "{message}"
    );
}

#[test]
fn unknown_log_format_names_the_choices() {
    let error =
        load_error(&SettingsSources::new().environment([("SORTIE__TELEMETRY__FORMAT", "xml")]));
    let message = error.to_string();
    assert!(
        message.starts_with("settings: telemetry.format \"xml\" (from SORTIE__TELEMETRY__FORMAT)"),
        "{message}"
    );
    assert!(
        message.contains("pretty") && message.contains("json"),
        "{message}"
    );
}

#[test]
fn zero_timeout_is_refused() {
    let error = load_error(&SettingsSources::new().flag("nats.request_timeout_seconds", "0"));
    assert_eq!(
        error.to_string(),
        "settings: nats.request_timeout_seconds 0 (from flag nats.request_timeout_seconds): \
         must be at least 1 second: nothing waits forever"
    );
}

#[test]
fn heartbeat_must_be_shorter_than_the_leases() {
    let file = TempSettingsFile::new("[orchestrator]\nheartbeat_seconds = 15\n");
    let error = load_error(&SettingsSources::new().file(file.path()));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "settings: orchestrator.heartbeat_seconds 15 (from {})",
            file.path().display()
        )),
        "{message}"
    );
    assert!(
        message.contains("orchestrator.lease_seconds (15)"),
        "{message}"
    );
}

#[test]
fn unknown_key_in_the_file_names_key_and_file() {
    let file = TempSettingsFile::new("[database]\nurl = \"postgres://db/x\"\npool_sise = 3\n");
    let error = load_error(&SettingsSources::new().file(file.path()));
    let SettingsError::UnknownSetting { key, origin, .. } = &error else {
        panic!("expected an unknown setting, got {error}");
    };
    assert_eq!(key, "database.pool_sise");
    assert_eq!(origin, &Origin::File(file.path().to_path_buf()));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "settings: unknown setting \"database.pool_sise\" (from {});",
            file.path().display()
        )),
        "{message}"
    );
    assert!(
        message.contains("pool_size"),
        "the hint lists the real keys: {message}"
    );
}

#[test]
fn unknown_section_in_the_file_is_refused() {
    let file = TempSettingsFile::new("[databse]\nurl = \"postgres://db/x\"\n");
    let message = load_error(&SettingsSources::new().file(file.path())).to_string();
    assert!(message.contains("unknown setting \"databse\""), "{message}");
    assert!(
        message.contains("the sections are: agents, database,"),
        "{message}"
    );
}

#[test]
fn unknown_environment_variable_is_refused() {
    let error = load_error(&SettingsSources::new().environment([("SORTIE__NATS__PREFX", "x")]));
    let SettingsError::UnknownSetting { key, origin, .. } = &error else {
        panic!("expected an unknown setting, got {error}");
    };
    assert_eq!(key, "nats.prefx");
    assert_eq!(
        origin,
        &Origin::Environment("SORTIE__NATS__PREFX".to_owned())
    );
}

#[test]
fn malformed_names_are_refused() {
    let error = load_error(&SettingsSources::new().flag("Http.Port", "1"));
    assert!(matches!(error, SettingsError::BadName { .. }), "{error}");
    let error = load_error(&SettingsSources::new().environment([("SORTIE__HTTP____PORT", "1")]));
    assert!(
        error
            .to_string()
            .starts_with("settings: SORTIE__HTTP____PORT does not name a setting"),
        "{error}"
    );
}

#[test]
fn unparsable_file_names_the_file_and_the_line() {
    let file = TempSettingsFile::new("[http]\nport = 80\nhost = \n");
    let error = load_error(&SettingsSources::new().file(file.path()));
    let SettingsError::File { path, message } = &error else {
        panic!("expected a file error, got {error}");
    };
    assert_eq!(path, file.path());
    assert!(message.contains("line 3"), "{message}");
    assert!(
        error
            .to_string()
            .contains(&file.path().display().to_string())
    );
}

#[test]
fn missing_required_file_is_an_error() {
    let error = load_error(&SettingsSources::new().file("/nonexistent/sortie/settings.toml"));
    let message = error.to_string();
    assert!(
        message.starts_with("settings: file /nonexistent/sortie/settings.toml:"),
        "{message}"
    );
}
