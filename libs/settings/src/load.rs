//! Layering: defaults, then the file, then the environment, then flags.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use config::{Config, ConfigError, Environment, File, FileFormat, Map, Source, Value, ValueKind};

use crate::error::{Origin, SettingsError};
use crate::secret::redact_connection_string;
use crate::sections::Settings;
use crate::validate::validate;

/// Environment variables that are settings start with this; `__` separates the parts.
pub const ENVIRONMENT_PREFIX: &str = "SORTIE__";
const ENVIRONMENT_SEPARATOR: &str = "__";

/// Settings whose values are never shown in an error message as they are.
const SECRET_KEYS: &[&str] = &["database.url", "nats.url", "nats.token"];

/// What settings are loaded from. Nothing is read until [`SettingsSources::load`], and the
/// process environment only through [`SettingsSources::process_environment`].
#[derive(Clone, Default)]
pub struct SettingsSources {
    file: Option<SettingsFile>,
    /// Only the `SORTIE__...` variables, by name.
    environment: BTreeMap<String, String>,
    flags: Vec<(String, String)>,
    defaults: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct SettingsFile {
    path: PathBuf,
    required: bool,
}

// By hand: values from the environment and flags may be secrets.
impl fmt::Debug for SettingsSources {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag_keys: Vec<&str> = self.flags.iter().map(|(key, _)| key.as_str()).collect();
        let default_keys: Vec<&str> = self.defaults.iter().map(|(key, _)| key.as_str()).collect();
        formatter
            .debug_struct("SettingsSources")
            .field("file", &self.file)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("flags", &flag_keys)
            .field("defaults", &default_keys)
            .finish()
    }
}

impl SettingsSources {
    pub fn new() -> Self {
        Self::default()
    }

    /// A TOML settings file that must exist.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(SettingsFile {
            path: path.into(),
            required: true,
        });
        self
    }

    /// A TOML settings file that is skipped when it does not exist.
    pub fn optional_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(SettingsFile {
            path: path.into(),
            required: false,
        });
        self
    }

    /// Environment variables, given explicitly (tests pass their own); only the
    /// `SORTIE__SECTION__KEY` ones are kept.
    pub fn environment<I, K, V>(mut self, variables: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (name, value) in variables {
            let name = name.into();
            if name.starts_with(ENVIRONMENT_PREFIX) {
                self.environment.insert(name, value.into());
            }
        }
        self
    }

    /// The environment of this process, for binaries; variables that are not valid
    /// Unicode are skipped.
    pub fn process_environment(self) -> Self {
        let variables = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        self.environment(variables)
    }

    /// Overrides from the command line, such as `("http.port", "8080")`; they win over
    /// everything else, the last one for a key winning.
    pub fn flags<I, K, V>(mut self, flags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.flags.extend(
            flags
                .into_iter()
                .map(|(key, value)| (key.into(), value.into())),
        );
        self
    }

    pub fn flag(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.flags([(key.into(), value.into())])
    }

    /// A binary's own default, below every other layer, such as
    /// `("telemetry.service_name", "sortie-worker")`.
    pub fn with_default(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.defaults.push((key.into(), value.into()));
        self
    }

    /// Loads, layers and validates the settings.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        let environment_keys = self.environment_keys()?;
        for (key, _) in &self.flags {
            check_name(key).map_err(|reason| SettingsError::BadName {
                origin: Origin::Flag(key.clone()),
                reason,
            })?;
        }
        for (key, _) in &self.defaults {
            check_name(key).map_err(|reason| SettingsError::BadName {
                origin: Origin::Default,
                reason: format!("{key:?}: {reason}"),
            })?;
        }
        let provenance = Provenance {
            sources: self,
            file_keys: self.file_keys()?,
            environment_keys,
        };

        let config = self.build_config()?;
        let merged = config.collect().map_err(|error| SettingsError::Other {
            message: error.to_string(),
        })?;
        check_unknown_keys(&merged, &provenance)?;

        let mut settings: Settings = config
            .try_deserialize()
            .map_err(|error| deserialize_error(error, &merged, &provenance))?;
        normalize(&mut settings);
        validate(&settings, &|key| provenance.origin_of(key))?;
        Ok(settings)
    }

    /// The setting each environment variable names, checked.
    fn environment_keys(&self) -> Result<BTreeMap<String, String>, SettingsError> {
        let mut keys = BTreeMap::new();
        for name in self.environment.keys() {
            let key = name[ENVIRONMENT_PREFIX.len()..]
                .to_lowercase()
                .replace(ENVIRONMENT_SEPARATOR, ".");
            check_name(&key).map_err(|_| SettingsError::BadName {
                origin: Origin::Environment(name.clone()),
                reason: "expected SORTIE__SECTION__KEY, such as SORTIE__NATS__URL".to_owned(),
            })?;
            keys.insert(key, name.clone());
        }
        Ok(keys)
    }

    fn file_source(&self) -> Option<File<config::FileSourceFile, FileFormat>> {
        let file = self.file.as_ref()?;
        Some(
            File::from(file.path.clone())
                .format(FileFormat::Toml)
                .required(file.required),
        )
    }

    /// The settings the file sets, to say where a value came from.
    fn file_keys(&self) -> Result<BTreeSet<String>, SettingsError> {
        let (Some(file), Some(source)) = (&self.file, self.file_source()) else {
            return Ok(BTreeSet::new());
        };
        let table = source
            .collect()
            .map_err(|error| file_error(file.path.clone(), error))?;
        let mut keys = BTreeSet::new();
        collect_paths(&table, "", &mut keys);
        Ok(keys)
    }

    fn build_config(&self) -> Result<Config, SettingsError> {
        let config_error = |error: ConfigError| SettingsError::Other {
            message: error.to_string(),
        };
        let mut builder = Config::builder();
        for (key, value) in &self.defaults {
            builder = builder
                .set_default(key.as_str(), value.as_str())
                .map_err(config_error)?;
        }
        if let Some(source) = self.file_source() {
            builder = builder.add_source(source);
        }
        let environment: Map<String, String> = self
            .environment
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix(ENVIRONMENT_PREFIX.trim_end_matches('_'))
                .prefix_separator(ENVIRONMENT_SEPARATOR)
                .separator(ENVIRONMENT_SEPARATOR)
                .source(Some(environment)),
        );
        for (key, value) in &self.flags {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(config_error)?;
        }
        builder.build().map_err(|error| match &self.file {
            Some(file) => file_error(file.path.clone(), error),
            None => config_error(error),
        })
    }
}

/// Every setting's name, such as `nats.prefix`, sorted.
pub fn setting_names() -> Vec<String> {
    let known = known_paths();
    let mut leaves: Vec<String> = known
        .iter()
        .filter(|path| {
            !known
                .iter()
                .any(|other| other.starts_with(&format!("{path}.")))
        })
        .cloned()
        .collect();
    leaves.sort();
    leaves
}

/// Every section and setting path the settings have, from a serialized default.
fn known_paths() -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let defaults = Config::try_from(&Settings::default())
        .and_then(|config| config.collect())
        .expect("the default settings serialize to a table");
    collect_paths(&defaults, "", &mut paths);
    // Empty by default, so absent from the serialized defaults.
    paths.insert(AGENT_PROFILES.to_owned());
    paths
}

/// Adds the path of every table and value under `table`.
fn collect_paths(table: &Map<String, Value>, prefix: &str, paths: &mut BTreeSet<String>) {
    for (name, value) in table {
        let path = join_path(prefix, name);
        if let ValueKind::Table(child) = &value.kind {
            collect_paths(child, &path, paths);
        }
        paths.insert(path);
    }
}

fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Setting names are lowercase words joined by dots.
fn check_name(key: &str) -> Result<(), String> {
    let well_formed = !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if well_formed {
        Ok(())
    } else {
        Err("setting names are lowercase words joined by '.', such as http.port".to_owned())
    }
}

/// Tells where a setting's value came from: the last layer that set it.
struct Provenance<'a> {
    sources: &'a SettingsSources,
    file_keys: BTreeSet<String>,
    /// Setting name to environment variable name.
    environment_keys: BTreeMap<String, String>,
}

impl Provenance<'_> {
    fn origin_of(&self, key: &str) -> Origin {
        let overlaps = |set_key: &str| {
            set_key == key
                || set_key.starts_with(&format!("{key}."))
                || key.starts_with(&format!("{set_key}."))
        };
        if let Some((flag_key, _)) = self.sources.flags.iter().rev().find(|(k, _)| overlaps(k)) {
            return Origin::Flag(flag_key.clone());
        }
        if let Some((_, variable)) = self.environment_keys.iter().find(|(k, _)| overlaps(k)) {
            return Origin::Environment(variable.clone());
        }
        if let Some(file) = &self.sources.file
            && self.file_keys.iter().any(|k| overlaps(k))
        {
            return Origin::File(file.path.clone());
        }
        Origin::Default
    }
}

/// The section whose keys are names the user chooses: `agents.<profile>`.
const AGENT_PROFILES: &str = "agents";

fn check_unknown_keys(
    merged: &Map<String, Value>,
    provenance: &Provenance<'_>,
) -> Result<(), SettingsError> {
    let known = known_paths();
    let mut stack: Vec<(String, &Map<String, Value>)> = vec![(String::new(), merged)];
    while let Some((prefix, table)) = stack.pop() {
        let mut names: Vec<&String> = table.keys().collect();
        names.sort();
        for name in names {
            let path = join_path(&prefix, name);
            if prefix == AGENT_PROFILES {
                // Profiles are named by the user; their fields are checked when read.
                continue;
            }
            if !known.contains(&path) {
                return Err(SettingsError::UnknownSetting {
                    origin: provenance.origin_of(&path),
                    hint: unknown_key_hint(&known, &prefix),
                    key: path,
                });
            }
            if let ValueKind::Table(child) = &table[name].kind {
                stack.push((path, child));
            }
        }
    }
    Ok(())
}

fn unknown_key_hint(known: &BTreeSet<String>, parent: &str) -> String {
    let children: Vec<&str> = known
        .iter()
        .filter_map(|path| {
            let rest = if parent.is_empty() {
                path.as_str()
            } else {
                path.strip_prefix(parent)?.strip_prefix('.')?
            };
            (!rest.contains('.')).then_some(rest)
        })
        .collect();
    if parent.is_empty() {
        format!("the sections are: {}", children.join(", "))
    } else {
        format!("{parent} has: {}", children.join(", "))
    }
}

fn file_error(path: PathBuf, error: ConfigError) -> SettingsError {
    let message = match error {
        ConfigError::FileParse { cause, .. } => cause.to_string(),
        other => other.to_string(),
    };
    SettingsError::File {
        path,
        message: message.trim_end().to_owned(),
    }
}

fn deserialize_error(
    error: ConfigError,
    merged: &Map<String, Value>,
    provenance: &Provenance<'_>,
) -> SettingsError {
    let (key, reason) = match error {
        ConfigError::Type {
            key: Some(key),
            expected,
            ..
        } => (key, format!("expected {expected}")),
        ConfigError::At {
            error,
            key: Some(key),
            ..
        } => (key, error.to_string()),
        other => {
            return SettingsError::Other {
                message: other.to_string(),
            };
        }
    };
    SettingsError::Invalid {
        value: value_for_display(merged, &key),
        origin: provenance.origin_of(&key),
        key,
        reason,
    }
}

/// A value as the user wrote it, for an error message; secrets redacted.
fn value_for_display(merged: &Map<String, Value>, key: &str) -> String {
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or_default();
    let mut value = merged.get(first);
    for part in parts {
        value = match value.map(|value| &value.kind) {
            Some(ValueKind::Table(table)) => table.get(part),
            _ => None,
        };
    }
    let Some(value) = value else {
        return "(unset)".to_owned();
    };
    let is_secret = SECRET_KEYS.contains(&key);
    match &value.kind {
        ValueKind::String(text) if is_secret => format!("{:?}", redact_connection_string(text)),
        _ if is_secret => "\"***\"".to_owned(),
        ValueKind::String(text) => format!("{text:?}"),
        ValueKind::Nil => "(empty)".to_owned(),
        ValueKind::Table(_) => "(a table)".to_owned(),
        ValueKind::Array(_) => "(a list)".to_owned(),
        _ => value.to_string(),
    }
}

/// An empty string in an optional setting means "unset", so an environment variable can
/// clear what the file set.
fn normalize(settings: &mut Settings) {
    fn clear_if_empty(value: &mut Option<String>) {
        if value.as_deref().is_some_and(|text| text.trim().is_empty()) {
            *value = None;
        }
    }
    clear_if_empty(&mut settings.telemetry.otlp_endpoint);
    clear_if_empty(&mut settings.orchestrator.replica_id);
    clear_if_empty(&mut settings.worker.id);
    clear_if_empty(&mut settings.validator.id);
    if settings
        .nats
        .token
        .as_ref()
        .is_some_and(|token| token.expose_secret().is_empty())
    {
        settings.nats.token = None;
    }
}
