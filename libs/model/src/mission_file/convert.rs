//! The raw plan, once validated, becomes a [`Plan`].

use crate::ids::{AssertionId, FeatureId, MilestoneId, RepositoryName};
use crate::mcp::McpServer;
use crate::plan::{
    Assertion, Feature, Milestone, Plan, Repository, ScriptedFix, ScriptedStep, ServiceDefinition,
    ServicesBlock, SkillDefinition, default_base_branch, default_health_path,
    default_health_timeout,
};

use super::raw::{RawPlan, RawStep};

/// `None` only if a required value is missing, which validation has already reported;
/// call it only when the sink holds no errors.
pub(crate) fn to_plan(raw: RawPlan) -> Option<Plan> {
    let only_repository = match raw.repositories.as_slice() {
        [only] => only.name.as_ref().map(|name| name.text.clone()),
        _ => None,
    };
    let repositories = raw
        .repositories
        .into_iter()
        .map(|repository| {
            Some(Repository {
                name: RepositoryName::new(repository.name?.text),
                url: repository.url,
                base_branch: repository.base_branch.unwrap_or_else(default_base_branch),
                integration_branch: repository.integration_branch,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let milestones = raw
        .milestones
        .into_iter()
        .map(|milestone| {
            Some(Milestone {
                id: MilestoneId::new(milestone.id?.text),
                title: milestone.title,
                description: milestone.description.unwrap_or_default(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let features = raw
        .features
        .into_iter()
        .map(|feature| {
            let repository = match feature.repository {
                Some(repository) => repository.text,
                None => only_repository.clone()?,
            };
            Some(Feature {
                id: FeatureId::new(feature.id?.text),
                title: feature.title,
                milestone: MilestoneId::new(feature.milestone?.text),
                repository: RepositoryName::new(repository),
                description: feature.description.unwrap_or_default(),
                skill: feature.skill.map(|skill| skill.text),
                preconditions: feature
                    .preconditions
                    .into_iter()
                    .map(|precondition| FeatureId::new(precondition.text))
                    .collect(),
                expected_behavior: feature.expected_behavior,
                verification: feature.verification,
                fulfills: feature
                    .fulfills
                    .into_iter()
                    .map(|assertion| AssertionId::new(assertion.text))
                    .collect(),
                touches: feature.touches,
                estimate_minutes: feature.estimate_minutes,
                steps: to_steps(feature.steps),
                // Only the orchestrator sets it, on the fix features it creates.
                fix: None,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let assertions = raw
        .assertions
        .into_iter()
        .map(|assertion| {
            Some(Assertion {
                id: AssertionId::new(assertion.id?.text),
                statement: assertion.statement,
                check: assertion.check?.check,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let skills = raw
        .skills
        .into_iter()
        .map(|skill| {
            Some(SkillDefinition {
                name: skill.name?.text,
                description: skill.description,
                instructions: skill.instructions,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let start = raw
        .services
        .into_iter()
        .map(|service| {
            Some(ServiceDefinition {
                name: service.name?.text,
                run: service.run,
                port: service.port?.into_inner(),
                health: service.health.unwrap_or_else(default_health_path),
                health_timeout_seconds: service
                    .health_timeout_seconds
                    .unwrap_or_else(default_health_timeout),
                stop: service.stop,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let scripted_fixes = raw
        .scripted_fixes
        .into_iter()
        .map(|fix| {
            Some(ScriptedFix {
                assertion: AssertionId::new(fix.assertion?.text),
                touches: fix.touches,
                steps: to_steps(fix.steps),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let mcp_servers = raw
        .mcp_servers
        .into_iter()
        .map(|server| {
            Some(McpServer {
                name: server.name?.text,
                transport: server.transport?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Plan {
        mission: raw.mission?,
        repositories,
        settings: raw.settings,
        milestones,
        features,
        assertions,
        skills,
        services: ServicesBlock {
            commands: raw.commands,
            start,
        },
        mcp_servers,
        scripted_fixes,
    })
}

fn to_steps(steps: Vec<RawStep>) -> Vec<ScriptedStep> {
    steps.into_iter().map(|step| step.step).collect()
}
