//! One validation attempt, from the task to the report: started, heartbeats, the checkout
//! of the commit, the checks, the report, and the task settled.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sortie_bus::Delivery;
use sortie_git::CommitId;
use sortie_model::protocol::ValidationTask;
use sortie_model::records::{Evidence, Finding, Severity};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::Validator;
use crate::config::deadlines;
use crate::error::ValidatorError;
use crate::judge::{Outcome, seconds};
use crate::reports::Reporter;
use crate::validation::Validation;

/// A validation that ran without a limit in its task gets this one.
const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(3600);

/// The check name of a finding about the checkout.
const CHECKOUT: &str = "checkout";
/// The check name of a finding about the validation's own time limit.
const TIME_LIMIT: &str = "time_limit";

pub(crate) async fn run(
    validator: Arc<Validator>,
    task: ValidationTask,
    delivery: Delivery,
    hand_back: CancellationToken,
) {
    let span = info_span!(
        "validation",
        mission = %task.mission,
        milestone = %task.milestone,
        attempt = %task.fence.attempt,
        epoch = task.fence.epoch,
    );
    sortie_telemetry::set_parent_from_headers(&span, delivery.headers().iter());
    run_in_span(validator, task, delivery, hand_back)
        .instrument(span)
        .await;
}

async fn run_in_span(
    validator: Arc<Validator>,
    task: ValidationTask,
    delivery: Delivery,
    hand_back: CancellationToken,
) {
    let attempt = task.fence.attempt;
    let Some(_running) = validator.claim(attempt) else {
        // The bus delivered the task again while this validator still works on it; the
        // running validation settles it.
        info!("this validation is already running here; leaving the copy for later");
        nak(delivery).await;
        return;
    };
    let reporter = Reporter::new(
        Arc::clone(&validator.bus),
        task.mission,
        task.fence,
        validator.config.id.clone(),
        delivery.delivered(),
        sortie_telemetry::current_context_headers(),
    );
    if let Err(error) = reporter.started().await {
        warn!(%error, "could not report the start; handing the task back");
        nak(delivery).await;
        return;
    }
    info!(commit = %task.commit, "validation started");

    let limit = match task.time_limit_seconds {
        0 => DEFAULT_TIME_LIMIT,
        seconds => Duration::from_secs(u64::from(seconds)),
    };
    let (checks_limit, hard_limit) = deadlines(limit, validator.config.limits.reserve());
    let started = Instant::now();
    let directory = validator.config.workspace_root.join(attempt.to_string());
    let (activity, activity_seen) = watch::channel(format!("checking out {}", task.commit));
    let work = validate(
        &validator,
        &task,
        &directory,
        started + checks_limit,
        &activity,
    );
    let heartbeat = heartbeat_loop(&reporter, &delivery, &task, activity_seen);
    let result = tokio::select! {
        result = tokio::time::timeout(hard_limit, work) => Some(result.unwrap_or_else(|_| {
            warn!(limit = %seconds(limit), "the validation ran past its time limit and was stopped");
            Ok(out_of_time(limit))
        })),
        () = hand_back.cancelled() => None,
        () = heartbeat => unreachable!("the heartbeat never stops by itself"),
    };
    // Everything the validation started has stopped (or was killed when its future was
    // dropped): the checkout can go.
    if let Err(error) = sortie_git::remove_workspace(&directory).await {
        warn!(%error, "could not remove the validation's checkout");
    }
    let outcome = match result {
        None => {
            info!("handing the validation back to the queue");
            nak(delivery).await;
            return;
        }
        Some(Err(error)) => {
            warn!(%error, "the validation could not run here now; handing the task back");
            nak(delivery).await;
            return;
        }
        Some(Ok(outcome)) => outcome,
    };
    let passed = outcome.checks.iter().filter(|check| check.passed).count();
    let findings = outcome.findings.len();
    if let Err(error) = reporter
        .finished(task.commit.clone(), outcome.checks, outcome.findings)
        .await
    {
        warn!(%error, "could not report the end of the validation; handing the task back");
        nak(delivery).await;
        return;
    }
    info!(passed, findings, "validation finished");
    if let Err(error) = delivery.ack().await {
        warn!(%error, "could not acknowledge the validation task");
    }
}

/// Check out the commit and run the checks. A checkout that failed for a reason that may
/// pass (a remote that did not answer, a leftover directory that cannot be removed) is an
/// error, and the task is tried again; one that cannot pass (no such commit) is a finding.
async fn validate(
    validator: &Validator,
    task: &ValidationTask,
    directory: &Path,
    deadline: Instant,
    activity: &watch::Sender<String>,
) -> Result<Outcome, ValidatorError> {
    // Left over by an earlier delivery that was cut short.
    sortie_git::remove_workspace(directory).await?;
    let checkout = directory.join("checkout");
    let logs = directory.join("logs");
    if let Err(error) = tokio::fs::create_dir_all(&logs).await {
        return Ok(checkout_failed(
            task,
            format!("cannot create {}: {error}", logs.display()),
        ));
    }
    let commit = match CommitId::parse(&task.commit) {
        Ok(commit) => commit,
        Err(error) => return Ok(checkout_failed(task, error.to_string())),
    };
    let url = &task.target.repository.url;
    match sortie_git::checkout_commit(&validator.repos, url, &commit, &checkout).await {
        Ok(()) => {}
        Err(error) if error.kind().is_retryable() => return Err(error.into()),
        Err(error) => return Ok(checkout_failed(task, error.to_string())),
    }
    let validation = Validation {
        task,
        checkout: &checkout,
        logs: &logs,
        limits: &validator.config.limits,
        deadline,
        http: &validator.http,
        activity,
        agents: &validator.config.agents,
    };
    Ok(validation.run().await)
}

fn checkout_failed(task: &ValidationTask, reason: String) -> Outcome {
    warn!(%reason, "cannot check out the commit");
    let mut outcome = Outcome::default();
    outcome.add_finding(Finding {
        assertion: None,
        check: CHECKOUT.to_owned(),
        severity: Severity::High,
        summary: format!("commit {} could not be checked out: {reason}", task.commit),
        evidence: vec![Evidence::Note { text: reason }],
    });
    outcome
}

fn out_of_time(limit: Duration) -> Outcome {
    let mut outcome = Outcome::default();
    let text = format!(
        "the validation was still running at its time limit of {} and was stopped",
        seconds(limit)
    );
    outcome.add_finding(Finding {
        assertion: None,
        check: TIME_LIMIT.to_owned(),
        severity: Severity::High,
        summary: text.clone(),
        evidence: vec![Evidence::Note { text }],
    });
    outcome
}

/// Report liveness every `heartbeat_seconds`, with what is being done, and keep the task's
/// delivery from being redelivered; until dropped.
async fn heartbeat_loop(
    reporter: &Reporter,
    delivery: &Delivery,
    task: &ValidationTask,
    activity: watch::Receiver<String>,
) {
    let period = Duration::from_secs(u64::from(task.heartbeat_seconds.max(1)));
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut beat = 0_u64;
    loop {
        ticks.tick().await;
        beat += 1;
        let now = activity.borrow().clone();
        if let Err(error) = reporter.heartbeat(beat, now).await {
            warn!(%error, beat, "could not send a heartbeat");
        }
        if let Err(error) = delivery.in_progress().await {
            warn!(%error, "could not extend the task's ack wait");
        }
    }
}

async fn nak(delivery: Delivery) {
    let delay = delivery.retry_delay();
    if let Err(error) = delivery.nak(delay).await {
        warn!(%error, "could not hand the validation task back");
    }
}
