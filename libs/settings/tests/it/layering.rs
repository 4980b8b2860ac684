use std::path::PathBuf;

use sortie_settings::{LogFormat, Settings, SettingsSources};

use crate::TempSettingsFile;

#[test]
fn defaults_work_with_no_configuration() {
    let settings = SettingsSources::new().load().expect("defaults load");
    assert_eq!(settings, Settings::default());
    assert_eq!(
        settings.database.url.expose_secret(),
        "postgres://postgres@127.0.0.1:5432/sortie"
    );
    assert_eq!(settings.database.pool_size, 8);
    assert_eq!(settings.nats.url.expose_secret(), "nats://127.0.0.1:4222");
    assert_eq!(settings.nats.prefix, "sortie");
    assert_eq!(settings.http.host, "127.0.0.1");
    assert_eq!(settings.http.port, 7400);
    assert_eq!(settings.http.bind_address(), "127.0.0.1:7400");
    assert_eq!(settings.telemetry.format, LogFormat::Pretty);
    assert_eq!(settings.telemetry.filter, "info");
    assert_eq!(settings.telemetry.otlp_endpoint, None);
    assert_eq!(settings.orchestrator.replica_id, None);
    assert_eq!(settings.orchestrator.lease_seconds, 15);
    assert_eq!(settings.orchestrator.attempt_lease_seconds, 60);
    assert_eq!(settings.orchestrator.heartbeat_seconds, 10);
    assert_eq!(settings.worker.concurrency, 1);
    assert_eq!(
        settings.worker.workspace_root,
        PathBuf::from(".sortie/workspaces")
    );
    assert_eq!(settings.validator.concurrency, 1);
}

#[test]
fn file_wins_over_defaults_and_keeps_the_rest() {
    let file = TempSettingsFile::new(
        r#"
[nats]
prefix = "team-a"

[http]
port = 8000

[telemetry]
format = "json"
otlp_endpoint = "http://127.0.0.1:4318"
"#,
    );
    let settings = SettingsSources::new()
        .file(file.path())
        .load()
        .expect("file loads");
    assert_eq!(settings.nats.prefix, "team-a");
    assert_eq!(settings.http.port, 8000);
    assert_eq!(settings.telemetry.format, LogFormat::Json);
    assert_eq!(
        settings.telemetry.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(
        settings.http.host, "127.0.0.1",
        "unset keys keep their default"
    );
    assert_eq!(settings.nats.url.expose_secret(), "nats://127.0.0.1:4222");
}

#[test]
fn environment_wins_over_file() {
    let file = TempSettingsFile::new("[http]\nport = 8000\nhost = \"0.0.0.0\"\n");
    let settings = SettingsSources::new()
        .file(file.path())
        .environment([
            ("SORTIE__HTTP__PORT", "9000"),
            (
                "SORTIE__DATABASE__URL",
                "postgres://app:pw@db:5432/missions",
            ),
            ("SORTIE__DATABASE__POOL_SIZE", "20"),
            ("SORTIE__WORKER__WORKSPACE_ROOT", "/var/lib/sortie"),
            ("HTTP__PORT", "1"),
            ("SORTIE_HTTP_PORT", "2"),
        ])
        .load()
        .expect("environment loads");
    assert_eq!(settings.http.port, 9000);
    assert_eq!(
        settings.http.host, "0.0.0.0",
        "the file still sets what env does not"
    );
    assert_eq!(
        settings.database.url.expose_secret(),
        "postgres://app:pw@db:5432/missions"
    );
    assert_eq!(settings.database.pool_size, 20);
    assert_eq!(
        settings.worker.workspace_root,
        PathBuf::from("/var/lib/sortie")
    );
}

#[test]
fn flags_win_over_environment() {
    let file = TempSettingsFile::new("[http]\nport = 8000\n");
    let settings = SettingsSources::new()
        .file(file.path())
        .environment([
            ("SORTIE__HTTP__PORT", "9000"),
            ("SORTIE__NATS__PREFIX", "env"),
        ])
        .flags([("http.port", "0"), ("worker.concurrency", "4")])
        .flag("worker.concurrency", "6")
        .load()
        .expect("flags load");
    assert_eq!(settings.http.port, 0);
    assert_eq!(settings.nats.prefix, "env");
    assert_eq!(
        settings.worker.concurrency, 6,
        "the last flag for a key wins"
    );
}

#[test]
fn binary_defaults_are_the_lowest_layer() {
    let sources = SettingsSources::new().with_default("telemetry.service_name", "sortie-worker");
    let settings = sources.load().expect("binary defaults load");
    assert_eq!(settings.telemetry.service_name, "sortie-worker");

    let settings = sources
        .environment([("SORTIE__TELEMETRY__SERVICE_NAME", "worker-eu")])
        .load()
        .expect("environment over a binary default");
    assert_eq!(settings.telemetry.service_name, "worker-eu");
}

#[test]
fn empty_optional_values_mean_unset() {
    let file = TempSettingsFile::new("[telemetry]\notlp_endpoint = \"http://collector:4318\"\n");
    let settings = SettingsSources::new()
        .file(file.path())
        .environment([
            ("SORTIE__TELEMETRY__OTLP_ENDPOINT", ""),
            ("SORTIE__WORKER__ID", ""),
        ])
        .load()
        .expect("empty values load");
    assert_eq!(settings.telemetry.otlp_endpoint, None);
    assert_eq!(settings.worker.id, None);
}

#[test]
fn optional_file_that_does_not_exist_is_skipped() {
    let settings = SettingsSources::new()
        .optional_file("/nonexistent/sortie/settings.toml")
        .load()
        .expect("a missing optional file is fine");
    assert_eq!(settings, Settings::default());
}
