//! The plan as written, before cross-checks: ids and references keep their positions.
//!
//! A field that was missing or wrong is `None` (for ids and references, so the checks
//! that follow do not pile up errors about it) or a placeholder (for plain text); either
//! way an error has already been reported and the parse will fail.

use std::collections::BTreeMap;

use crate::mcp::McpTransport;
use crate::plan::{Check, MissionHeader, MissionSettings, ScriptedStep};

use super::source::{FieldPath, Located, Span};

#[derive(Debug, Default)]
pub(crate) struct RawPlan {
    pub(crate) mission: Option<MissionHeader>,
    pub(crate) repositories: Vec<RawRepository>,
    pub(crate) settings: MissionSettings,
    pub(crate) milestones: Vec<RawMilestone>,
    pub(crate) features: Vec<RawFeature>,
    pub(crate) assertions: Vec<RawAssertion>,
    pub(crate) skills: Vec<RawSkill>,
    pub(crate) commands: BTreeMap<String, String>,
    pub(crate) services: Vec<RawService>,
    pub(crate) scripted_fixes: Vec<RawScriptedFix>,
    pub(crate) mcp_servers: Vec<RawMcpServer>,
}

/// Where an item of an array of tables is: its `[[header]]` and its path.
#[derive(Clone, Debug)]
pub(crate) struct ItemPlace {
    pub(crate) header: Span,
    pub(crate) path: FieldPath,
}

#[derive(Debug)]
pub(crate) struct RawRepository {
    pub(crate) name: Option<Located>,
    pub(crate) url: String,
    pub(crate) base_branch: Option<String>,
    pub(crate) integration_branch: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RawMilestone {
    pub(crate) id: Option<Located>,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RawFeature {
    pub(crate) place: ItemPlace,
    pub(crate) id: Option<Located>,
    pub(crate) title: String,
    pub(crate) milestone: Option<Located>,
    /// May be left out when the plan has exactly one repository.
    pub(crate) repository: Option<Located>,
    pub(crate) description: Option<String>,
    pub(crate) skill: Option<Located>,
    pub(crate) preconditions: Vec<Located>,
    pub(crate) expected_behavior: Vec<String>,
    pub(crate) verification: Vec<String>,
    pub(crate) fulfills: Vec<Located>,
    pub(crate) touches: Vec<String>,
    pub(crate) estimate_minutes: Option<u32>,
    pub(crate) steps: Vec<RawStep>,
}

/// A step of the scripted agent. Only well-formed steps are kept; the others have been
/// reported.
#[derive(Debug)]
pub(crate) struct RawStep {
    pub(crate) step: ScriptedStep,
    /// The file a `write`, `append` or `replace` step changes, to check against touches.
    pub(crate) file: Option<Located>,
}

#[derive(Debug)]
pub(crate) struct RawScriptedFix {
    pub(crate) assertion: Option<Located>,
    pub(crate) touches: Vec<String>,
    pub(crate) steps: Vec<RawStep>,
}

#[derive(Debug)]
pub(crate) struct RawAssertion {
    pub(crate) id: Option<Located>,
    pub(crate) statement: String,
    pub(crate) check: Option<RawCheck>,
}

#[derive(Debug)]
pub(crate) struct RawCheck {
    pub(crate) check: Check,
    /// The service an HTTP check calls, to be looked up in `[[services.start]]`.
    pub(crate) http_service: Option<Located>,
}

#[derive(Debug)]
pub(crate) struct RawSkill {
    pub(crate) name: Option<Located>,
    pub(crate) description: String,
    pub(crate) instructions: String,
}

#[derive(Debug)]
pub(crate) struct RawService {
    pub(crate) place: ItemPlace,
    pub(crate) name: Option<Located>,
    pub(crate) run: String,
    pub(crate) port: Option<toml::Spanned<u16>>,
    pub(crate) health: Option<String>,
    pub(crate) health_timeout_seconds: Option<u32>,
    pub(crate) stop: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RawMcpServer {
    pub(crate) name: Option<Located>,
    /// `None` when it was wrong; the error has been reported.
    pub(crate) transport: Option<McpTransport>,
}
