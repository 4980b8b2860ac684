//! The services user-testing starts: each `sh -c run` in its own process group with its
//! output in a log file, waited on until its health path answers 2xx, and always stopped
//! afterwards (its `stop` command, then SIGTERM to its group, then SIGKILL).

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use reqwest::Client;
use sortie_model::plan::ServiceDefinition;
use sortie_model::records::{CommandRun, Evidence};
use tokio::process::Child;
use tracing::{info, warn};

use crate::http::{exchange, local_url};
use crate::shell::{self, ShellCommand, elapsed_ms};
use crate::text::{OUTPUT_TAIL_BYTES, file_tail};
use sortie_agents::process::ProcessGroup;

/// The longest one health probe may wait for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between health probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// A started service. Dropped without [`RunningService::stop`] (a cancelled validation),
/// its process group is killed.
#[derive(Debug)]
pub(crate) struct RunningService {
    pub(crate) definition: ServiceDefinition,
    child: Child,
    group: ProcessGroup,
    log: PathBuf,
    started: Instant,
    exited: Option<ExitStatus>,
}

/// How long stopping may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopLimits {
    /// The limit of a service's `stop` command.
    pub(crate) stop_command: Duration,
    /// How long a service has to exit after its stop command, and after SIGTERM.
    pub(crate) grace: Duration,
}

/// Start `definition` in `cwd`, its output in `log`. The service sees its port as `PORT`.
pub(crate) async fn start(
    definition: &ServiceDefinition,
    cwd: &Path,
    log: PathBuf,
) -> Result<RunningService, String> {
    let shell = ShellCommand {
        script: &definition.run,
        cwd,
        log: log.clone(),
        env: vec![("PORT".to_owned(), definition.port.to_string())],
    };
    let mut command = shell.command();
    shell
        .with_log(&mut command)
        .await
        .map_err(|error| format!("could not open its log {}: {error}", log.display()))?;
    let child = command
        .spawn()
        .map_err(|error| format!("could not start `{}`: {error}", definition.run))?;
    let group = ProcessGroup::led_by(child.id());
    info!(service = %definition.name, port = definition.port, "service started");
    Ok(RunningService {
        definition: definition.clone(),
        child,
        group,
        log,
        started: Instant::now(),
        exited: None,
    })
}

impl RunningService {
    /// Probe the health path until it answers 2xx, the service exits, or `limit` passes.
    /// The error says what was seen last.
    pub(crate) async fn wait_healthy(
        &mut self,
        client: &Client,
        limit: Duration,
    ) -> Result<(), String> {
        let url = local_url(self.definition.port, &self.definition.health);
        let deadline = Instant::now() + limit;
        let mut last_seen = "no answer".to_owned();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.exited = Some(status);
                    return Err(format!(
                        "it exited ({status}) before GET {url} answered 2xx"
                    ));
                }
                Ok(None) => {}
                Err(error) => return Err(format!("cannot check whether it runs: {error}")),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(format!(
                    "GET {url} did not answer 2xx within {}s (last: {last_seen})",
                    limit.as_secs_f32()
                ));
            }
            let probe = exchange(
                client,
                "GET",
                url.clone(),
                None,
                remaining.min(PROBE_TIMEOUT),
            )
            .await;
            match (probe.status, probe.error) {
                (Some(status), None) if (200..300).contains(&status) => {
                    info!(service = %self.definition.name, "service is healthy");
                    return Ok(());
                }
                (Some(status), _) => last_seen = format!("answered {status}"),
                (None, error) => last_seen = error.unwrap_or_else(|| "no answer".to_owned()),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(remaining.min(PROBE_INTERVAL)).await;
        }
    }

    /// The service's run as evidence: its command, its exit code once it exited, and the
    /// tail of its log.
    pub(crate) async fn evidence(&self) -> Evidence {
        let output_tail = match file_tail(&self.log, OUTPUT_TAIL_BYTES).await {
            Ok(tail) => tail,
            Err(error) => format!("could not read the service's log: {error}"),
        };
        Evidence::Command(CommandRun {
            command: self.definition.run.clone(),
            exit_code: self.exited.and_then(|status| status.code()),
            output_tail,
            duration_ms: elapsed_ms(self.started),
        })
    }

    /// Stop the service: its `stop` command when it has one, else SIGTERM to its group;
    /// SIGKILL to the group when it is still running after the grace period. Whatever is
    /// left of its group is killed at the end.
    pub(crate) async fn stop(mut self, cwd: &Path, stop_log: PathBuf, limits: StopLimits) {
        let name = self.definition.name.clone();
        if self.has_exited() {
            info!(service = %name, "service had exited already");
            return;
        }
        if let Some(stop) = self.definition.stop.clone() {
            let shell = ShellCommand {
                script: &stop,
                cwd,
                log: stop_log,
                env: vec![("PORT".to_owned(), self.definition.port.to_string())],
            };
            let finished = shell::run(shell, limits.stop_command).await;
            if finished.run.exit_code != Some(0) {
                warn!(service = %name, ended = ?finished.ended, "the service's stop command failed");
            }
            if self.exits_within(limits.grace).await {
                info!(service = %name, "service stopped by its stop command");
                return;
            }
        }
        self.group.terminate();
        if self.exits_within(limits.grace).await {
            info!(service = %name, "service stopped");
            return;
        }
        warn!(service = %name, grace = ?limits.grace, "service ignored SIGTERM; killing it");
        self.group.kill();
        let _ = self.child.wait().await;
        // Dropping self kills what is left of the group.
    }

    fn has_exited(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited.is_some()
    }

    async fn exits_within(&mut self, grace: Duration) -> bool {
        if let Ok(Ok(status)) = tokio::time::timeout(grace, self.child.wait()).await {
            self.exited = Some(status);
        }
        self.exited.is_some()
    }
}
