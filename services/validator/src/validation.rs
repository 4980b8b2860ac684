//! The checks of one validation, run in a checkout of the commit: scrutiny (build, test,
//! lint), then the command and agent assertions, then user-testing (the services started,
//! the HTTP assertions called, the services stopped).
//!
//! Every check gets a limit no later than the validation's deadline; a check the deadline
//! leaves no time for fails as not checked, with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Client;
use sortie_model::plan::{Assertion, Check};
use sortie_model::protocol::ValidationTask;
use sortie_model::records::{Evidence, Finding, Severity};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use sortie_agents::Agent;
use sortie_settings::AgentProfileSettings;

use crate::agent_check::AgentCheck;
use crate::config::Limits;
use crate::http::{exchange, local_url};
use crate::judge::{self, ASSERTION, HttpExpectation, Judged, Outcome, seconds};
use crate::review;
use crate::services::{self, RunningService, StopLimits};
use crate::shell::{self, ShellCommand};
use crate::verdict::Places;

/// The scrutiny steps, in the order they run.
pub const SCRUTINY_STEPS: [&str; 3] = ["build", "test", "lint"];

/// The check name of a finding about a service user-testing could not start.
pub(crate) const SERVICE: &str = "service";

/// Where and until when a validation runs its checks.
#[derive(Debug)]
pub(crate) struct Validation<'a> {
    pub(crate) task: &'a ValidationTask,
    /// The checkout of the commit; every command runs here.
    pub(crate) checkout: &'a Path,
    /// Where commands' and services' output is written.
    pub(crate) logs: &'a Path,
    pub(crate) limits: &'a Limits,
    /// No check starts, or runs, past this.
    pub(crate) deadline: Instant,
    pub(crate) http: &'a Client,
    /// What is being done now, for heartbeats.
    pub(crate) activity: &'a watch::Sender<String>,
    /// The settings' agent profiles, where the task's validator profile is found.
    pub(crate) agents: &'a BTreeMap<String, AgentProfileSettings>,
}

/// Why a service cannot be called.
#[derive(Clone, Debug)]
struct Unavailable {
    reason: String,
    evidence: Vec<Evidence>,
}

impl Validation<'_> {
    pub(crate) async fn run(&self) -> Outcome {
        let mut outcome = Outcome::default();
        if self.task.run_scrutiny {
            for step in SCRUTINY_STEPS {
                if let Some(script) = self.task.services.commands.get(step) {
                    outcome.add(self.scrutiny_step(step, script).await);
                }
            }
            if !self.task.features.is_empty() {
                self.review(&mut outcome).await;
            }
        }
        let assertions = &self.task.assertions;
        let mut results: Vec<Option<Judged>> = vec![None; assertions.len()];
        let mut http_checks = Vec::new();
        let mut reviewer = None;
        for (index, assertion) in assertions.iter().enumerate() {
            match &assertion.check {
                Check::Command { .. } => {
                    results[index] = Some(self.command_assertion(index, assertion).await);
                }
                Check::Agent { .. } => {
                    let agent = reviewer.get_or_insert_with(|| self.reviewer());
                    results[index] = Some(self.agent_assertion(assertion, agent).await);
                }
                Check::Http { .. } => http_checks.push(index),
            }
        }
        if !http_checks.is_empty() {
            let checks: Vec<&Assertion> = http_checks
                .iter()
                .map(|index| &assertions[*index])
                .collect();
            let judged = if self.task.run_user_testing {
                self.user_testing(&checks, &mut outcome).await
            } else {
                checks
                    .iter()
                    .map(|assertion| {
                        judge::not_run(
                            Some(&assertion.id),
                            ASSERTION,
                            "user-testing is off for this validation, so no service was started",
                            Vec::new(),
                        )
                    })
                    .collect()
            };
            for (index, judged) in http_checks.into_iter().zip(judged) {
                results[index] = Some(judged);
            }
        }
        for judged in results.into_iter().flatten() {
            outcome.add(judged);
        }
        outcome
    }

    fn set_activity(&self, activity: String) {
        self.activity.send_replace(activity);
    }

    /// `own`, cut short by the deadline; none once the deadline has passed.
    fn limit(&self, own: Duration) -> Option<Duration> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        (!remaining.is_zero()).then(|| own.min(remaining))
    }

    fn out_of_time(&self) -> String {
        format!(
            "the validation's time limit of {} ran out first",
            seconds(Duration::from_secs(u64::from(self.task.time_limit_seconds)))
        )
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    async fn scrutiny_step(&self, step: &str, script: &str) -> Judged {
        let Some(limit) = self.limit(self.limits.scrutiny_step) else {
            return judge::not_run(None, step, &self.out_of_time(), Vec::new());
        };
        self.set_activity(format!("scrutiny: {step}"));
        info!(step, "running a scrutiny step");
        let shell = ShellCommand {
            script,
            cwd: self.checkout,
            log: self.log(step),
            env: Vec::new(),
        };
        let finished = shell::run(shell, limit).await;
        judge::scrutiny(step, &finished)
    }

    /// The review half of scrutiny, by the task's validator agent; the scripted profile
    /// does not review.
    async fn review(&self, outcome: &mut Outcome) {
        let agent = match self.reviewer() {
            Ok(Some(agent)) => agent,
            Ok(None) => return,
            Err(reason) => {
                outcome.add(judge::not_run(None, review::REVIEW, &reason, Vec::new()));
                return;
            }
        };
        let Some(limit) = self.limit(self.limits.agent_check) else {
            outcome.add(judge::not_run(
                None,
                review::REVIEW,
                &self.out_of_time(),
                Vec::new(),
            ));
            return;
        };
        self.set_activity("scrutiny: review".to_owned());
        info!(agent = %self.task.agent, "asking the validator agent to review the milestone");
        let reviewed = review::review(agent.as_ref(), self.task, self.checkout, limit, |what| {
            self.set_activity(what);
        })
        .await;
        outcome.add(reviewed.judged);
        for finding in reviewed.findings {
            outcome.add_finding(finding);
        }
    }

    /// The task's validator agent: none for the scripted profile, which cannot judge;
    /// `Err` when the profile cannot be made.
    fn reviewer(&self) -> Result<Option<Box<dyn Agent>>, String> {
        let name = &self.task.agent;
        match sortie_agents::for_profile(name, self.agents) {
            Ok(agent) if agent.name() == "scripted" => Ok(None),
            Ok(agent) => Ok(Some(agent)),
            Err(error) => Err(format!("the validator agent {name:?}: {error}")),
        }
    }

    async fn agent_assertion(
        &self,
        assertion: &Assertion,
        reviewer: &Result<Option<Box<dyn Agent>>, String>,
    ) -> Judged {
        let Check::Agent {
            instructions,
            evidence,
        } = &assertion.check
        else {
            unreachable!("only agent checks are judged by an agent");
        };
        let agent = match reviewer {
            Ok(Some(agent)) => agent.as_ref(),
            Ok(None) => return judge::agent(&assertion.id),
            Err(reason) => {
                return judge::not_run(Some(&assertion.id), ASSERTION, reason, Vec::new());
            }
        };
        let Some(limit) = self.limit(self.limits.agent_check) else {
            return judge::not_run(
                Some(&assertion.id),
                ASSERTION,
                &self.out_of_time(),
                Vec::new(),
            );
        };
        self.set_activity(format!("checking {}", assertion.id));
        info!(assertion = %assertion.id, agent = %self.task.agent, "asking the validator agent");
        let check = AgentCheck {
            agent,
            task: self.task,
            places: Places {
                checkout: self.checkout,
                logs: self.logs,
            },
            activity: self.activity,
        };
        check.run(assertion, instructions, evidence, limit).await
    }

    async fn command_assertion(&self, index: usize, assertion: &Assertion) -> Judged {
        let Check::Command {
            run,
            expect_exit,
            expect_output,
            timeout_seconds,
        } = &assertion.check
        else {
            unreachable!("only command checks are run as commands");
        };
        let own = timeout_seconds.map_or(self.limits.command_assertion, |seconds| {
            Duration::from_secs(u64::from(seconds))
        });
        let Some(limit) = self.limit(own) else {
            return judge::not_run(
                Some(&assertion.id),
                ASSERTION,
                &self.out_of_time(),
                Vec::new(),
            );
        };
        self.set_activity(format!("checking {}", assertion.id));
        info!(assertion = %assertion.id, "running a command assertion");
        let shell = ShellCommand {
            script: run,
            cwd: self.checkout,
            log: self.log(&format!("assertion-{index}")),
            env: Vec::new(),
        };
        let finished = shell::run(shell, limit).await;
        judge::command(
            &assertion.id,
            *expect_exit,
            expect_output.as_deref(),
            &finished,
        )
    }

    /// Start the services, call the HTTP assertions, and stop the services whatever
    /// happened. Returns one result per assertion, in order.
    async fn user_testing(&self, checks: &[&Assertion], outcome: &mut Outcome) -> Vec<Judged> {
        let (running, unavailable) = self.start_services(outcome).await;
        let mut judged = Vec::with_capacity(checks.len());
        for assertion in checks {
            judged.push(self.http_assertion(assertion, &running, &unavailable).await);
        }
        self.set_activity("stopping services".to_owned());
        let stop_limits = StopLimits {
            stop_command: self.limits.service_stop_command,
            grace: self.limits.service_stop_grace,
        };
        for (index, service) in running.into_iter().rev() {
            service
                .stop(
                    self.checkout,
                    self.log(&format!("service-{index}-stop")),
                    stop_limits,
                )
                .await;
        }
        judged
    }

    /// Start the services in order, each waited on until healthy. The first that does
    /// not come up is a finding, and the rest are not started (they may depend on it).
    /// Returns the started services (the unhealthy one included, so that it is stopped)
    /// and why the others cannot be called.
    async fn start_services(
        &self,
        outcome: &mut Outcome,
    ) -> (Vec<(usize, RunningService)>, BTreeMap<String, Unavailable>) {
        let mut running = Vec::new();
        let mut unavailable = BTreeMap::new();
        let mut failure: Option<Unavailable> = None;
        for (index, definition) in self.task.services.start.iter().enumerate() {
            if let Some(earlier) = &failure {
                unavailable.insert(
                    definition.name.clone(),
                    Unavailable {
                        reason: format!(
                            "it was not started because an earlier service failed: {}",
                            earlier.reason
                        ),
                        evidence: earlier.evidence.clone(),
                    },
                );
                continue;
            }
            let health_timeout = Duration::from_secs(u64::from(definition.health_timeout_seconds));
            let Some(limit) = self.limit(health_timeout) else {
                let reason = self.out_of_time();
                unavailable.insert(
                    definition.name.clone(),
                    Unavailable {
                        reason: reason.clone(),
                        evidence: Vec::new(),
                    },
                );
                failure = Some(Unavailable {
                    reason,
                    evidence: Vec::new(),
                });
                continue;
            };
            self.set_activity(format!("starting service {}", definition.name));
            let log = self.log(&format!("service-{index}"));
            let problem = match services::start(definition, self.checkout, log).await {
                Err(reason) => Some(Unavailable {
                    reason,
                    evidence: Vec::new(),
                }),
                Ok(mut service) => {
                    let health = service.wait_healthy(self.http, limit).await;
                    let problem = match health {
                        Ok(()) => None,
                        Err(reason) => Some(Unavailable {
                            reason,
                            evidence: vec![service.evidence().await],
                        }),
                    };
                    running.push((index, service));
                    problem
                }
            };
            if let Some(problem) = problem {
                warn!(service = %definition.name, reason = %problem.reason, "a service did not come up");
                let summary = format!(
                    "service {} did not become healthy: {}",
                    definition.name, problem.reason
                );
                let mut evidence = problem.evidence.clone();
                evidence.push(Evidence::Note {
                    text: problem.reason.clone(),
                });
                outcome.add_finding(Finding {
                    assertion: None,
                    check: SERVICE.to_owned(),
                    severity: Severity::High,
                    summary,
                    evidence,
                });
                unavailable.insert(definition.name.clone(), problem.clone());
                failure = Some(problem);
            }
        }
        (running, unavailable)
    }

    async fn http_assertion(
        &self,
        assertion: &Assertion,
        running: &[(usize, RunningService)],
        unavailable: &BTreeMap<String, Unavailable>,
    ) -> Judged {
        let Check::Http {
            service,
            method,
            path,
            body,
            expect_status,
            expect_body,
        } = &assertion.check
        else {
            unreachable!("only HTTP checks are called over HTTP");
        };
        if let Some(problem) = unavailable.get(service) {
            return judge::not_run(
                Some(&assertion.id),
                ASSERTION,
                &format!("service {service} is not running: {}", problem.reason),
                problem.evidence.clone(),
            );
        }
        let Some((_, target)) = running
            .iter()
            .find(|(_, candidate)| &candidate.definition.name == service)
        else {
            return judge::not_run(
                Some(&assertion.id),
                ASSERTION,
                &format!("service {service} is not in the services block"),
                Vec::new(),
            );
        };
        let Some(limit) = self.limit(self.limits.http_request) else {
            return judge::not_run(
                Some(&assertion.id),
                ASSERTION,
                &self.out_of_time(),
                Vec::new(),
            );
        };
        self.set_activity(format!("checking {}", assertion.id));
        info!(assertion = %assertion.id, %method, %path, "calling an HTTP assertion");
        let url = local_url(target.definition.port, path);
        let answer = exchange(self.http, method, url, body.as_deref(), limit).await;
        judge::http(
            &assertion.id,
            HttpExpectation {
                method,
                path,
                status: *expect_status,
                body: expect_body.as_deref(),
            },
            &answer,
        )
    }
}
