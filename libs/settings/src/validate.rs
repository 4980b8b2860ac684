//! Rules a loaded value must keep; each error names the setting and where it came from.

use crate::error::{Origin, SettingsError};
use crate::sections::Settings;

type OriginOf<'a> = &'a dyn Fn(&str) -> Origin;

const AT_LEAST_ONE_SECOND: &str = "must be at least 1 second: nothing waits forever";

pub(crate) fn validate(settings: &Settings, origin_of: OriginOf<'_>) -> Result<(), SettingsError> {
    let check = Checker { origin_of };

    let database = &settings.database;
    check.database_url(
        "database.url",
        database.url.expose_secret(),
        &database.url.redacted(),
    )?;
    check.at_least_one(
        "database.pool_size",
        u64::from(database.pool_size),
        "must be at least 1",
    )?;
    check.at_least_one(
        "database.connect_timeout_seconds",
        database.connect_timeout_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "database.statement_timeout_seconds",
        database.statement_timeout_seconds,
        AT_LEAST_ONE_SECOND,
    )?;

    let nats = &settings.nats;
    check.nats_url("nats.url", nats.url.expose_secret(), &nats.url.redacted())?;
    check.prefix("nats.prefix", &nats.prefix)?;
    check.at_least_one(
        "nats.connect_timeout_seconds",
        nats.connect_timeout_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "nats.request_timeout_seconds",
        nats.request_timeout_seconds,
        AT_LEAST_ONE_SECOND,
    )?;

    let host = &settings.http.host;
    if host.trim().is_empty() || host.chars().any(char::is_whitespace) {
        return Err(check.invalid(
            "http.host",
            format!("{host:?}"),
            "must be a host name or an IP address",
        ));
    }

    let telemetry = &settings.telemetry;
    if telemetry.filter.trim().is_empty() {
        return Err(check.invalid(
            "telemetry.filter",
            "\"\"".to_owned(),
            "must not be empty; \"off\" turns logging off",
        ));
    }
    if let Some(endpoint) = &telemetry.otlp_endpoint {
        let is_http = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !is_http {
            return Err(check.invalid(
                "telemetry.otlp_endpoint",
                format!("{endpoint:?}"),
                "must be an http:// URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318",
            ));
        }
    }
    if telemetry.service_name.trim().is_empty() {
        return Err(check.invalid(
            "telemetry.service_name",
            "\"\"".to_owned(),
            "must not be empty",
        ));
    }

    let orchestrator = &settings.orchestrator;
    check.optional_id(
        "orchestrator.replica_id",
        orchestrator.replica_id.as_deref(),
    )?;
    check.at_least_one(
        "orchestrator.lease_seconds",
        orchestrator.lease_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.attempt_lease_seconds",
        orchestrator.attempt_lease_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.heartbeat_seconds",
        orchestrator.heartbeat_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.dispatch_lease_seconds",
        orchestrator.dispatch_lease_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.attempt_time_limit_seconds",
        orchestrator.attempt_time_limit_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.reconcile_seconds",
        orchestrator.reconcile_seconds,
        AT_LEAST_ONE_SECOND,
    )?;
    check.at_least_one(
        "orchestrator.tick_milliseconds",
        orchestrator.tick_milliseconds,
        "must be at least 1 millisecond",
    )?;
    let shortest_lease = orchestrator
        .lease_seconds
        .min(orchestrator.attempt_lease_seconds);
    if orchestrator.heartbeat_seconds >= shortest_lease {
        return Err(check.invalid(
            "orchestrator.heartbeat_seconds",
            orchestrator.heartbeat_seconds.to_string(),
            &format!(
                "must be shorter than orchestrator.lease_seconds ({}) and \
                 orchestrator.attempt_lease_seconds ({}), or leases lapse between renewals",
                orchestrator.lease_seconds, orchestrator.attempt_lease_seconds
            ),
        ));
    }

    let worker = &settings.worker;
    check.optional_id("worker.id", worker.id.as_deref())?;
    check.at_least_one(
        "worker.concurrency",
        u64::from(worker.concurrency),
        "must be at least 1",
    )?;
    if worker.workspace_root.as_os_str().is_empty() {
        return Err(check.invalid(
            "worker.workspace_root",
            "\"\"".to_owned(),
            "must not be empty",
        ));
    }

    let validator = &settings.validator;
    check.optional_id("validator.id", validator.id.as_deref())?;
    check.at_least_one(
        "validator.concurrency",
        u64::from(validator.concurrency),
        "must be at least 1",
    )?;
    Ok(())
}

struct Checker<'a> {
    origin_of: OriginOf<'a>,
}

impl Checker<'_> {
    fn invalid(&self, key: &str, value: String, reason: &str) -> SettingsError {
        SettingsError::Invalid {
            key: key.to_owned(),
            value,
            origin: (self.origin_of)(key),
            reason: reason.to_owned(),
        }
    }

    fn at_least_one(&self, key: &str, value: u64, reason: &str) -> Result<(), SettingsError> {
        if value >= 1 {
            Ok(())
        } else {
            Err(self.invalid(key, value.to_string(), reason))
        }
    }

    fn database_url(&self, key: &str, url: &str, redacted: &str) -> Result<(), SettingsError> {
        let reason = if url.trim().is_empty() {
            Some("must not be empty")
        } else if let Some((scheme, _)) = url.split_once("://") {
            let is_postgres = scheme == "postgres" || scheme == "postgresql";
            (!is_postgres).then_some("must be a postgres:// URL or a key=value connection string")
        } else {
            (!url.contains('='))
                .then_some("must be a postgres:// URL or a key=value connection string")
        };
        match reason {
            Some(reason) => Err(self.invalid(key, format!("{redacted:?}"), reason)),
            None => Ok(()),
        }
    }

    fn nats_url(&self, key: &str, url: &str, redacted: &str) -> Result<(), SettingsError> {
        const SCHEMES: &[&str] = &["nats", "tls", "ws", "wss"];
        let bad_server = url.split(',').map(str::trim).find(|server| {
            let bad_scheme = server
                .split_once("://")
                .is_some_and(|(scheme, _)| !SCHEMES.contains(&scheme));
            server.is_empty() || bad_scheme
        });
        match bad_server {
            Some(_) => Err(self.invalid(
                key,
                format!("{redacted:?}"),
                "must be one server URL (nats://, tls://, ws:// or wss://) or a comma-separated list",
            )),
            None => Ok(()),
        }
    }

    fn prefix(&self, key: &str, prefix: &str) -> Result<(), SettingsError> {
        let allowed = !prefix.is_empty()
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if allowed {
            Ok(())
        } else {
            Err(self.invalid(
                key,
                format!("{prefix:?}"),
                "only letters, digits, '-' and '_' are allowed",
            ))
        }
    }

    /// Names of replicas, workers and validators end up in subjects and lease rows.
    fn optional_id(&self, key: &str, id: Option<&str>) -> Result<(), SettingsError> {
        let Some(id) = id else {
            return Ok(());
        };
        let allowed = id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if allowed {
            Ok(())
        } else {
            Err(self.invalid(
                key,
                format!("{id:?}"),
                "at most 64 letters, digits, '-', '_' and '.'",
            ))
        }
    }
}
