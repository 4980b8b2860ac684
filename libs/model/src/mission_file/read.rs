//! Reads the TOML tree into the raw plan: structure, types, and the checks that need
//! only the value itself (id syntax, ranges, globs).

use toml::de::DeTable;

use crate::plan::{AgentProfiles, MissionHeader, MissionSettings};

use super::checks::read_check;
use super::diagnostic::DiagnosticCode;
use super::mcp::{MCP_SERVER_FIELDS, read_mcp_server};
use super::raw::{
    ItemPlace, RawAssertion, RawFeature, RawMilestone, RawPlan, RawRepository, RawService, RawSkill,
};
use super::reader::{TableReader, as_string};
use super::rules::{self, GlobProblem};
use super::scripted::{SCRIPTED_FIX_FIELDS, read_scripted_fix, read_steps};
use super::source::{FieldPath, Located, Sink};

const TOP_LEVEL_FIELDS: &[&str] = &[
    "mission",
    "repositories",
    "settings",
    "milestones",
    "features",
    "assertions",
    "skills",
    "services",
    "scripted_fixes",
    "mcp_servers",
];
const MISSION_FIELDS: &[&str] = &["name", "goal"];
const REPOSITORY_FIELDS: &[&str] = &["name", "url", "base_branch", "integration_branch"];
const SETTINGS_FIELDS: &[&str] = &[
    "max_parallel_workers",
    "validation",
    "skip_scrutiny",
    "skip_user_testing",
    "max_attempts_per_feature",
    "max_fix_rounds",
    "agents",
];
const AGENT_FIELDS: &[&str] = &["worker", "validator", "planner"];
const MILESTONE_FIELDS: &[&str] = &["id", "title", "description"];
const FEATURE_FIELDS: &[&str] = &[
    "id",
    "title",
    "milestone",
    "repository",
    "description",
    "skill",
    "preconditions",
    "expected_behavior",
    "verification",
    "fulfills",
    "touches",
    "estimate_minutes",
    "steps",
];
const ASSERTION_FIELDS: &[&str] = &["id", "statement", "check"];
const SKILL_FIELDS: &[&str] = &["name", "description", "instructions"];
const SERVICES_FIELDS: &[&str] = &["commands", "start"];
const SERVICE_FIELDS: &[&str] = &[
    "name",
    "run",
    "port",
    "health",
    "health_timeout_seconds",
    "stop",
];

pub(crate) fn read_plan(document: &toml::Spanned<DeTable<'_>>, sink: &mut Sink<'_>) -> RawPlan {
    let root = TableReader::new(
        document.get_ref(),
        document.span(),
        FieldPath::root(),
        TOP_LEVEL_FIELDS,
        sink,
    );
    let mission = match root.optional_table("mission", MISSION_FIELDS, sink) {
        Some(table) => Some(read_mission(&table, sink)),
        None => {
            if !root.has("mission") {
                root.report_missing("mission", sink, " (a [mission] table with name and goal)");
            }
            None
        }
    };
    let settings = root
        .optional_table("settings", SETTINGS_FIELDS, sink)
        .map(|table| read_settings(&table, sink))
        .unwrap_or_default();
    let repositories = root
        .array_of_tables("repositories", REPOSITORY_FIELDS, sink)
        .iter()
        .map(|table| read_repository(table, sink))
        .collect();
    let milestones = root
        .array_of_tables("milestones", MILESTONE_FIELDS, sink)
        .iter()
        .map(|table| read_milestone(table, sink))
        .collect();
    let features = root
        .array_of_tables("features", FEATURE_FIELDS, sink)
        .iter()
        .map(|table| read_feature(table, sink))
        .collect();
    let assertions = root
        .array_of_tables("assertions", ASSERTION_FIELDS, sink)
        .iter()
        .map(|table| read_assertion(table, sink))
        .collect();
    let skills = root
        .array_of_tables("skills", SKILL_FIELDS, sink)
        .iter()
        .map(|table| read_skill(table, sink))
        .collect();
    let scripted_fixes = root
        .array_of_tables("scripted_fixes", SCRIPTED_FIX_FIELDS, sink)
        .iter()
        .map(|table| read_scripted_fix(table, sink))
        .collect();
    let mcp_servers = root
        .array_of_tables("mcp_servers", MCP_SERVER_FIELDS, sink)
        .iter()
        .map(|table| read_mcp_server(table, sink))
        .collect();
    let mut raw = RawPlan {
        mission,
        repositories,
        settings,
        milestones,
        features,
        assertions,
        skills,
        scripted_fixes,
        mcp_servers,
        ..RawPlan::default()
    };
    if let Some(services) = root.optional_table("services", SERVICES_FIELDS, sink) {
        for (name, value) in services.optional_map("commands", sink) {
            if let Some(command) = as_string(value, &name.path, sink) {
                if command.text.trim().is_empty() {
                    sink.report_at(
                        DiagnosticCode::EmptyValue,
                        &command,
                        "a command must not be empty",
                    );
                }
                raw.commands.insert(name.text, command.text);
            }
        }
        raw.services = services
            .array_of_tables("start", SERVICE_FIELDS, sink)
            .iter()
            .map(|table| read_service(table, sink))
            .collect();
    }
    raw
}

fn place_of(table: &TableReader<'_, '_>) -> ItemPlace {
    ItemPlace {
        header: table.span(),
        path: table.path().clone(),
    }
}

/// A required id checked against `rule`.
fn read_id(
    table: &TableReader<'_, '_>,
    key: &str,
    what: &str,
    rule: fn(&str) -> Result<(), String>,
    sink: &mut Sink<'_>,
) -> Option<Located> {
    let id = table.required_string(key, sink)?;
    match rule(&id.text) {
        Ok(()) => Some(id),
        Err(reason) => {
            sink.report_at(
                DiagnosticCode::InvalidId,
                &id,
                format!("{what} {:?} {reason}", id.text),
            );
            None
        }
    }
}

fn read_branch(table: &TableReader<'_, '_>, key: &str, sink: &mut Sink<'_>) -> Option<String> {
    let branch = table.optional_string(key, sink)?;
    if let Err(reason) = rules::check_branch(&branch.text) {
        sink.report_at(
            DiagnosticCode::InvalidBranch,
            &branch,
            format!("branch name {:?} {reason}", branch.text),
        );
    }
    Some(branch.text)
}

fn read_mission(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> MissionHeader {
    // The name becomes part of the default integration branch, `sortie/<name>`.
    let name = read_id(table, "name", "mission name", rules::check_id, sink)
        .map(|name| name.text)
        .unwrap_or_default();
    let goal = table.required_text("goal", sink);
    MissionHeader { name, goal }
}

fn read_settings(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> MissionSettings {
    let mut settings = MissionSettings::default();
    for (key, target) in [
        ("max_parallel_workers", &mut settings.max_parallel_workers),
        (
            "max_attempts_per_feature",
            &mut settings.max_attempts_per_feature,
        ),
    ] {
        if let Some(value) = table.optional_integer::<u32>(key, sink) {
            if *value.get_ref() == 0 {
                sink.report(
                    DiagnosticCode::InvalidSetting,
                    value.span(),
                    &table.path().key(key),
                    format!("{key} must be at least 1"),
                );
            }
            *target = value.into_inner();
        }
    }
    if let Some(value) = table.optional_integer::<u32>("max_fix_rounds", sink) {
        settings.max_fix_rounds = value.into_inner();
    }
    for (key, target) in [
        ("validation", &mut settings.validation),
        ("skip_scrutiny", &mut settings.skip_scrutiny),
        ("skip_user_testing", &mut settings.skip_user_testing),
    ] {
        if let Some(flag) = table.optional_bool(key, sink) {
            *target = flag;
        }
    }
    if let Some(agents) = table.optional_table("agents", AGENT_FIELDS, sink) {
        settings.agents = read_agents(&agents, sink);
    }
    settings
}

fn read_agents(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> AgentProfiles {
    let mut agents = AgentProfiles::default();
    for (key, target) in [
        ("worker", &mut agents.worker),
        ("validator", &mut agents.validator),
        ("planner", &mut agents.planner),
    ] {
        if let Some(profile) = table.optional_text(key, sink) {
            *target = profile;
        }
    }
    agents
}

fn read_repository(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawRepository {
    RawRepository {
        name: read_id(table, "name", "repository name", rules::check_id, sink),
        url: table.required_text("url", sink),
        base_branch: read_branch(table, "base_branch", sink),
        integration_branch: read_branch(table, "integration_branch", sink),
    }
}

fn read_milestone(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawMilestone {
    RawMilestone {
        id: read_id(table, "id", "milestone id", rules::check_id, sink),
        title: table.required_text("title", sink),
        description: table
            .optional_string("description", sink)
            .map(|text| text.text),
    }
}

fn read_feature(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawFeature {
    let skill = table.optional_string("skill", sink).filter(|skill| {
        let verdict = rules::check_skill_name(&skill.text);
        if let Err(reason) = &verdict {
            sink.report_at(
                DiagnosticCode::InvalidSkillName,
                skill,
                format!("skill name {:?} {reason}", skill.text),
            );
        }
        verdict.is_ok()
    });
    let texts = |located: Vec<Located>| located.into_iter().map(|item| item.text).collect();
    RawFeature {
        place: place_of(table),
        id: read_id(table, "id", "feature id", rules::check_id, sink),
        title: table.required_text("title", sink),
        milestone: table.required_string("milestone", sink),
        repository: table.optional_string("repository", sink),
        description: table
            .optional_string("description", sink)
            .map(|text| text.text),
        skill,
        preconditions: table.string_list("preconditions", sink),
        expected_behavior: texts(table.string_list("expected_behavior", sink)),
        verification: texts(table.string_list("verification", sink)),
        fulfills: table.string_list("fulfills", sink),
        touches: read_touches(table, sink),
        estimate_minutes: table
            .optional_integer::<u32>("estimate_minutes", sink)
            .map(toml::Spanned::into_inner),
        steps: read_steps(table, sink),
    }
}

/// `touches` of a feature or a scripted fix: globs relative to the repository root.
pub(crate) fn read_touches(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Vec<String> {
    let touches = table.string_list("touches", sink);
    for pattern in &touches {
        match rules::check_touches_glob(&pattern.text) {
            Ok(()) => {}
            Err(GlobProblem::Invalid(reason)) => sink.report_at(
                DiagnosticCode::InvalidGlob,
                pattern,
                format!("invalid glob {:?}: {reason}", pattern.text),
            ),
            Err(GlobProblem::OutsideRepository(reason)) => sink.report_at(
                DiagnosticCode::PathOutsideRepository,
                pattern,
                format!("{:?} {reason}", pattern.text),
            ),
        }
    }
    touches.into_iter().map(|pattern| pattern.text).collect()
}

fn read_assertion(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawAssertion {
    let id = read_id(table, "id", "assertion id", rules::check_assertion_id, sink);
    let statement = table.required_text("statement", sink);
    let check = if table.has("check") {
        read_check(table, sink)
    } else {
        table.report_missing(
            "check",
            sink,
            " (for example check = { kind = \"command\", run = \"...\" })",
        );
        None
    };
    RawAssertion {
        id,
        statement,
        check,
    }
}

fn read_skill(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawSkill {
    let name = table.required_string("name", sink).filter(|name| {
        let verdict = rules::check_skill_name(&name.text);
        if let Err(reason) = &verdict {
            sink.report_at(
                DiagnosticCode::InvalidSkillName,
                name,
                format!("skill name {:?} {reason}", name.text),
            );
        }
        verdict.is_ok()
    });
    RawSkill {
        name,
        description: table.required_text("description", sink),
        instructions: table.required_text("instructions", sink),
    }
}

fn read_service(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawService {
    let port = table.required_integer::<u16>("port", sink);
    if let Some(port) = &port
        && *port.get_ref() == 0
    {
        sink.report(
            DiagnosticCode::InvalidSetting,
            port.span(),
            &table.path().key("port"),
            "port must not be 0",
        );
    }
    let health = table.optional_string("health", sink);
    if let Some(health) = &health
        && !health.text.starts_with('/')
    {
        sink.report_at(
            DiagnosticCode::InvalidSetting,
            health,
            format!("health path {:?} must start with '/'", health.text),
        );
    }
    let health_timeout_seconds = table.optional_integer::<u32>("health_timeout_seconds", sink);
    if let Some(timeout) = &health_timeout_seconds
        && *timeout.get_ref() == 0
    {
        sink.report(
            DiagnosticCode::InvalidSetting,
            timeout.span(),
            &table.path().key("health_timeout_seconds"),
            "health_timeout_seconds must be at least 1",
        );
    }
    RawService {
        place: place_of(table),
        name: read_id(table, "name", "service name", rules::check_id, sink),
        run: table.required_text("run", sink),
        port,
        health: health.map(|health| health.text),
        health_timeout_seconds: health_timeout_seconds.map(toml::Spanned::into_inner),
        stop: table.optional_text("stop", sink),
    }
}
