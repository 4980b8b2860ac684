//! Sortie's layered settings: defaults, then an optional TOML file, then environment
//! variables (`SORTIE__SECTION__KEY`), then flags from the command line.
//!
//! ```no_run
//! let settings = sortie_settings::SettingsSources::new()
//!     .with_default("telemetry.service_name", "sortie-worker")
//!     .optional_file("sortie.toml")
//!     .process_environment()
//!     .flag("http.port", "0")
//!     .load()?;
//! println!("{:?}", settings.database.url); // the password prints as ***
//! # Ok::<(), sortie_settings::SettingsError>(())
//! ```
//!
//! Nothing here reads the process environment except
//! [`SettingsSources::process_environment`], which binaries call.

mod error;
mod load;
mod secret;
mod sections;
mod validate;

pub use error::{Origin, SettingsError};
pub use load::{ENVIRONMENT_PREFIX, SettingsSources, setting_names};
pub use secret::{Secret, SecretUrl};
pub use sections::{
    AgentKind, AgentProfileSettings, DatabaseSettings, HttpSettings, LogFormat, NatsSettings,
    OrchestratorSettings, PriceSettings, Settings, TelemetrySettings, ValidatorSettings,
    WorkerSettings,
};
