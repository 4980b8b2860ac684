use std::fmt;
use std::path::PathBuf;

/// Where the value of a setting came from, so an error can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Sortie's built-in defaults, or a binary's own (`SettingsSources::with_default`).
    Default,
    /// The settings file.
    File(PathBuf),
    /// An environment variable, by name (`SORTIE__NATS__PREFIX`).
    Environment(String),
    /// A command-line override, by setting name (`http.port`).
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => formatter.write_str("the defaults"),
            Self::File(path) => write!(formatter, "{}", path.display()),
            Self::Environment(variable) => formatter.write_str(variable),
            Self::Flag(key) => write!(formatter, "flag {key}"),
        }
    }
}

/// Why settings could not be loaded. Every message names the setting and, where it can,
/// where the bad value came from; secrets are shown redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file is missing, unreadable, or not valid TOML (the message has the line).
    #[error("settings: file {}: {message}", path.display())]
    File { path: PathBuf, message: String },

    /// A key that no setting has, in the file, the environment or the flags.
    #[error("settings: unknown setting {key:?} (from {origin}); {hint}")]
    UnknownSetting {
        key: String,
        origin: Origin,
        hint: String,
    },

    /// A flag or environment variable whose name cannot be a setting name.
    #[error("settings: {origin} does not name a setting: {reason}")]
    BadName { origin: Origin, reason: String },

    /// A value of the wrong type, or one that breaks a rule.
    #[error("settings: {key} {value} (from {origin}): {reason}")]
    Invalid {
        key: String,
        /// The value as the user wrote it (redacted for secrets).
        value: String,
        origin: Origin,
        reason: String,
    },

    /// Anything the configuration library reports that fits none of the above.
    #[error("settings: {message}")]
    Other { message: String },
}
