//! The settings of every Sortie service, one struct per section.
//!
//! Every field has a default, so a laptop with a local Postgres and NATS runs with no
//! configuration at all. A setting that weakens a guard must be named `dangerously_...`
//! (a test enforces it).

use std::path::PathBuf;
use std::time::Duration;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::{Secret, SecretUrl};

/// All of Sortie's settings, as loaded by [`crate::SettingsSources::load`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub http: HttpSettings,
    pub telemetry: TelemetrySettings,
    pub orchestrator: OrchestratorSettings,
    pub worker: WorkerSettings,
    pub validator: ValidatorSettings,
    /// `agents.<profile>`: the agents a mission's roles may name, by profile name.
    pub agents: BTreeMap<String, AgentProfileSettings>,
}

/// `database.*`: the Postgres ledger (only the orchestrator uses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// A `postgres://` URL or a libpq key=value string; its password is never printed.
    pub url: SecretUrl,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
    pub statement_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretUrl::new("postgres://postgres@127.0.0.1:5432/sortie"),
            pool_size: 8,
            connect_timeout_seconds: 5,
            statement_timeout_seconds: 30,
        }
    }
}

impl DatabaseSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_secs(self.statement_timeout_seconds)
    }
}

/// `nats.*`: the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    /// One server URL or a comma-separated list; credentials in it are never printed.
    pub url: SecretUrl,
    /// Prefix of every subject and stream name, so several Sorties can share one server.
    pub prefix: String,
    /// An authentication token, if the server wants one.
    pub token: Option<Secret>,
    pub connect_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: SecretUrl::new("nats://127.0.0.1:4222"),
            prefix: "sortie".to_owned(),
            token: None,
            connect_timeout_seconds: 5,
            request_timeout_seconds: 10,
        }
    }
}

impl NatsSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }
}

/// `http.*`: where a service listens (control API, health, web console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub host: String,
    /// 0 means any free port (tests use it).
    pub port: u16,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 7400,
        }
    }
}

impl HttpSettings {
    /// `host:port`, with an IPv6 host in brackets, ready for a socket bind.
    pub fn bind_address(&self) -> String {
        let host_is_ipv6 = self.host.contains(':') && !self.host.starts_with('[');
        if host_is_ipv6 {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LogFormat {
    /// For people at a terminal.
    #[default]
    Pretty,
    /// One JSON object a line, for log collectors.
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err("must be \"pretty\" or \"json\"".to_owned()),
        }
    }
}

/// `telemetry.*`: logs and traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive string, such as `info,sortie_bus=debug`.
    pub filter: String,
    /// Base URL of an OTLP/HTTP collector (such as `http://127.0.0.1:4318`); traces are
    /// exported only when it is set.
    pub otlp_endpoint: Option<String>,
    /// The OpenTelemetry service name; each binary sets its own with
    /// [`crate::SettingsSources::with_default`].
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name: "sortie".to_owned(),
        }
    }
}

/// `orchestrator.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrchestratorSettings {
    /// This replica's name in leases; the binary computes `hostname-pid` when unset.
    pub replica_id: Option<String>,
    /// How long a replica owns a mission without renewing its lease.
    pub lease_seconds: u64,
    /// How long a worker or validator owns an attempt without a heartbeat.
    pub attempt_lease_seconds: u64,
    /// How often leases are renewed; shorter than both leases.
    pub heartbeat_seconds: u64,
    /// How long a dispatched attempt may wait in the queue for a worker.
    pub dispatch_lease_seconds: u64,
    /// The longest one attempt may run, whatever its heartbeats say.
    pub attempt_time_limit_seconds: u64,
    /// The first retry of a failed feature waits this long; each further retry doubles it.
    pub retry_backoff_seconds: u64,
    /// How often each owned mission is looked at when nothing wakes it sooner.
    pub tick_milliseconds: u64,
    /// How often the bus's streams are checked and waiting work is sent again.
    pub reconcile_seconds: u64,
    /// Where the orchestrator keeps its git mirrors for the merge queue.
    pub data_dir: PathBuf,
}

impl Default for OrchestratorSettings {
    fn default() -> Self {
        Self {
            replica_id: None,
            lease_seconds: 15,
            attempt_lease_seconds: 60,
            heartbeat_seconds: 10,
            dispatch_lease_seconds: 600,
            attempt_time_limit_seconds: 3600,
            retry_backoff_seconds: 2,
            tick_milliseconds: 500,
            reconcile_seconds: 30,
            data_dir: PathBuf::from(".sortie/orchestrator"),
        }
    }
}

impl OrchestratorSettings {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    pub fn attempt_lease(&self) -> Duration {
        Duration::from_secs(self.attempt_lease_seconds)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_seconds)
    }

    pub fn dispatch_lease(&self) -> Duration {
        Duration::from_secs(self.dispatch_lease_seconds)
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_milliseconds)
    }
}

/// `worker.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerSettings {
    /// This worker's name; the binary computes one when unset.
    pub id: Option<String>,
    /// Features this worker runs at once.
    pub concurrency: u32,
    /// Where feature workspaces (git checkouts) are made.
    pub workspace_root: PathBuf,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            id: None,
            concurrency: 1,
            workspace_root: PathBuf::from(".sortie/workspaces"),
        }
    }
}

/// `validator.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidatorSettings {
    /// This validator's name; the binary computes one when unset.
    pub id: Option<String>,
    /// Validations this validator runs at once.
    pub concurrency: u32,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        Self {
            id: None,
            concurrency: 1,
        }
    }
}

/// The kinds of agent a profile can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum AgentKind {
    /// Performs the plan's scripted steps; needs no model.
    Scripted,
    /// Sortie's own agent loop over an OpenAI-compatible or Anthropic endpoint.
    Llm,
    /// Anthropic's Claude Code CLI (`claude -p`).
    ClaudeCode,
    /// OpenAI's Codex CLI (`codex exec`).
    Codex,
    /// Factory's droid CLI (`droid exec`).
    Droid,
    /// Any agent that speaks the Agent Client Protocol on its standard input and output,
    /// started with the profile's `command` and `args`.
    Acp,
}

impl AgentKind {
    pub const ALL: [AgentKind; 6] = [
        AgentKind::Scripted,
        AgentKind::Llm,
        AgentKind::ClaudeCode,
        AgentKind::Codex,
        AgentKind::Droid,
        AgentKind::Acp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Scripted => "scripted",
            AgentKind::Llm => "llm",
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::Codex => "codex",
            AgentKind::Droid => "droid",
            AgentKind::Acp => "acp",
        }
    }
}

impl TryFrom<String> for AgentKind {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!("the kinds are: {}", names.join(", "))
            })
    }
}

/// `agents.<profile>`: one agent, as a mission's roles name it (`worker = "claude"`).
/// Which fields apply depends on `kind`; a field the kind does not use is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentProfileSettings {
    pub kind: AgentKind,
    /// The CLI to run (`claude-code`, `codex`): a path, or a name looked up on `PATH`.
    #[serde(default)]
    pub command: Option<String>,
    /// The model endpoint; for the CLIs, unset means the vendor's own.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// `llm`: `openai_chat` or `anthropic`; `droid`, for its custom model at `base_url`:
    /// `openai_chat` (the default), `openai_responses` or `anthropic`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The endpoint's key; for the CLIs, unset means the vendor's variable
    /// (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`) from the worker's environment.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Model turns a run may take, unless the request sets its own.
    #[serde(default)]
    pub max_turns: Option<u32>,
    /// Dollars one run may spend: the worker fails a run that spent more, and `claude-code`
    /// also stops itself there (`--max-budget-usd`).
    #[serde(default)]
    pub max_budget_usd: Option<f64>,
    /// Dollars per million tokens, over the table Sortie ships.
    #[serde(default)]
    pub prices: Option<PriceSettings>,
    /// Extra arguments for the CLI, after Sortie's own.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment for the CLI.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl AgentProfileSettings {
    /// A profile of `kind` with nothing else set.
    pub fn of_kind(kind: AgentKind) -> Self {
        Self {
            kind,
            command: None,
            base_url: None,
            model: None,
            protocol: None,
            api_key: None,
            max_turns: None,
            max_budget_usd: None,
            prices: None,
            args: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

/// Dollars per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSettings {
    pub input_per_million: f64,
    pub output_per_million: f64,
    /// Tokens read from the prompt cache; at the input price when unset.
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
}
