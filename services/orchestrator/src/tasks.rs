//! The messages the orchestrator sends: tasks for workers and validators, built from the
//! approved plan in the ledger, never from anything a worker could edit.

use std::collections::BTreeMap;

use sortie_ledger::OutgoingMessage;
use sortie_model::messages::{Envelope, Topic};
use sortie_model::plan::{Assertion, Check, Feature, Plan, Repository};
use sortie_model::protocol::{FeatureTask, RepositoryTarget, ValidationTask, kind};
use sortie_model::{AttemptFence, MilestoneId, MissionId, RepositoryName};

use crate::config::Config;

/// The integration branch of a repository in a mission: the plan's, or
/// `sortie/<mission name>-<end of the mission id>`, so that running the same mission file
/// twice never mixes two missions' work.
pub fn integration_branch(plan: &Plan, mission: MissionId, repository: &Repository) -> String {
    repository.integration_branch.clone().unwrap_or_else(|| {
        let id = mission.0.simple().to_string();
        format!("sortie/{}-{}", plan.mission.name, &id[id.len() - 8..])
    })
}

pub fn repository_target(
    plan: &Plan,
    mission: MissionId,
    name: &RepositoryName,
) -> Option<RepositoryTarget> {
    let repository = plan
        .repositories
        .iter()
        .find(|repository| &repository.name == name)?;
    Some(RepositoryTarget {
        integration_branch: integration_branch(plan, mission, repository),
        repository: repository.clone(),
    })
}

fn seconds(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}

fn outgoing<T: serde::Serialize + serde::de::DeserializeOwned>(
    topic: Topic,
    mission: MissionId,
    msg_id: String,
    kind: &str,
    body: T,
) -> OutgoingMessage {
    let envelope = Envelope::new(msg_id.clone(), kind, Some(mission), body);
    OutgoingMessage {
        topic,
        msg_id,
        payload: envelope.to_json(),
        headers: trace_headers(),
    }
}

/// The current trace context, so that the task continues the mission's trace.
fn trace_headers() -> BTreeMap<String, String> {
    sortie_telemetry::current_context_headers()
}

/// The dedupe id of an attempt's task: the same attempt is always the same message.
pub fn task_msg_id(fence: AttemptFence) -> String {
    format!("task-{}-{}", fence.attempt, fence.epoch)
}

#[derive(Debug)]
pub struct FeatureTaskInput<'a> {
    pub mission: MissionId,
    pub plan: &'a Plan,
    pub plan_version: i32,
    pub fence: AttemptFence,
    pub feature: &'a Feature,
    pub target: RepositoryTarget,
}

pub fn feature_task(input: FeatureTaskInput<'_>, config: &Config) -> OutgoingMessage {
    let plan = input.plan;
    let skill = input.feature.skill.as_ref().and_then(|name| {
        plan.skills
            .iter()
            .find(|skill| &skill.name == name)
            .cloned()
    });
    let task = FeatureTask {
        mission: input.mission,
        mission_name: plan.mission.name.clone(),
        plan_version: input.plan_version,
        fence: input.fence,
        feature: input.feature.clone(),
        target: input.target,
        skill,
        agent: plan.settings.agents.worker.clone(),
        heartbeat_seconds: seconds(config.heartbeat).max(1),
        time_limit_seconds: seconds(config.attempt_time_limit),
        mcp_servers: plan.mcp_servers.clone(),
    };
    outgoing(
        Topic::FeatureTask,
        input.mission,
        task_msg_id(input.fence),
        kind::FEATURE_TASK,
        task,
    )
}

/// The assertions a milestone's validation in one repository must prove: those the
/// milestone's features there fulfil, less the kinds the mission's settings skip.
pub fn covered_assertions<'plan>(
    plan: &'plan Plan,
    milestone: &MilestoneId,
    repository: &RepositoryName,
) -> Vec<&'plan Assertion> {
    let skip_user_testing = plan.settings.skip_user_testing;
    plan.assertions
        .iter()
        .filter(|assertion| {
            plan.features_of(milestone).any(|feature| {
                &feature.repository == repository && feature.fulfills.contains(&assertion.id)
            })
        })
        .filter(|assertion| !(skip_user_testing && matches!(assertion.check, Check::Http { .. })))
        .collect()
}

#[derive(Debug)]
pub struct ValidationTaskInput<'a> {
    pub mission: MissionId,
    pub plan: &'a Plan,
    pub plan_version: i32,
    pub fence: AttemptFence,
    pub milestone: &'a MilestoneId,
    pub target: RepositoryTarget,
    pub commit: String,
}

pub fn validation_task(input: ValidationTaskInput<'_>, config: &Config) -> OutgoingMessage {
    let plan = input.plan;
    let assertions = covered_assertions(plan, input.milestone, &input.target.repository.name)
        .into_iter()
        .cloned()
        .collect();
    let features = plan
        .features_of(input.milestone)
        .filter(|feature| feature.repository == input.target.repository.name)
        .cloned()
        .collect();
    let task = ValidationTask {
        mission: input.mission,
        mission_name: plan.mission.name.clone(),
        plan_version: input.plan_version,
        fence: input.fence,
        milestone: input.milestone.clone(),
        target: input.target,
        commit: input.commit,
        assertions,
        services: plan.services.clone(),
        run_scrutiny: !plan.settings.skip_scrutiny,
        run_user_testing: !plan.settings.skip_user_testing,
        heartbeat_seconds: seconds(config.heartbeat).max(1),
        time_limit_seconds: seconds(config.attempt_time_limit),
        agent: plan.settings.agents.validator.clone(),
        features,
        mcp_servers: plan.mcp_servers.clone(),
    };
    outgoing(
        Topic::ValidationTask,
        input.mission,
        task_msg_id(input.fence),
        kind::VALIDATION_TASK,
        task,
    )
}
