//! The planner as a service on the bus: it answers planner requests
//! (`sortie_model::planner`) with [`questions`](crate::questions()) and
//! [`propose`](crate::propose()), in a queue group so replicas share the requests.
//!
//! Invariant: the planner holds no database credentials; it reads only the `agents` and
//! `nats` settings, and every model request is bounded by [`crate::REQUEST_TIME_LIMIT`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sortie_agents::llm::{ChatModel, LlmConfig};
use sortie_bus::{BusError, PlannerCall, PlannerRequests};
use sortie_model::planner::{
    PlannerErrorCode, PlannerFailure, PlannerOperation, PlannerProposal, PlannerQuestions,
    PlannerRequest, PlannerResponse,
};
use sortie_model::records::Usage;
use sortie_settings::{AgentKind, AgentProfileSettings, Settings};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::propose::PlanError;

/// Requests answered at the same time by one planner; more wait for a free slot.
const CONCURRENT_REQUESTS: usize = 8;

/// A planner connected to the bus and subscribed to its requests.
#[derive(Debug)]
pub struct Application {
    requests: PlannerRequests,
    agents: Arc<BTreeMap<String, AgentProfileSettings>>,
}

impl Application {
    /// Connects to the bus the settings name and subscribes, so that a bad address fails
    /// at start and no request is missed once this returns.
    pub async fn build(settings: &Settings) -> Result<Self, BusError> {
        let bus = sortie_service::connect_bus(settings).await?;
        let requests = PlannerRequests::subscribe(&bus).await?;
        Ok(Self {
            requests,
            agents: Arc::new(settings.agents.clone()),
        })
    }

    /// Answers requests until `shutdown` completes, then lets the requests being answered
    /// finish for at most `grace`.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) {
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
        tracing::info!("planner answering requests");
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&permits).acquire_owned() => {
                    permit.expect("the semaphore is never closed")
                }
            };
            let call = tokio::select! {
                () = &mut shutdown => break,
                call = self.requests.next() => call,
            };
            let Some(call) = call else {
                tracing::warn!("the bus connection closed; the planner stops");
                break;
            };
            let agents = Arc::clone(&self.agents);
            tracker.spawn(async move {
                answer_call(call, &agents).await;
                drop(permit);
            });
        }
        tracing::info!("planner stopping: answering no new requests");
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "requests still being answered after the grace period"
            );
        }
    }
}

async fn answer_call(call: PlannerCall, agents: &BTreeMap<String, AgentProfileSettings>) {
    let response = match &call.request {
        Err(error) => failure(PlannerErrorCode::BadRequest, error.to_string()),
        Ok(request) if call.operation != Some(request.operation) => failure(
            PlannerErrorCode::BadRequest,
            format!(
                "a {} request was sent on the subject of another operation",
                request.operation.as_str()
            ),
        ),
        Ok(request) => answer(request, agents).await,
    };
    if let Err(error) = call.respond(response).await {
        tracing::warn!(%error, "cannot answer a planner request");
    }
}

/// The planner's answer to one request, from the profiles in `agents`.
pub async fn answer(
    request: &PlannerRequest,
    agents: &BTreeMap<String, AgentProfileSettings>,
) -> PlannerResponse {
    let model = match chat_model(&request.agent, agents) {
        Ok(model) => model,
        Err(failed) => return PlannerResponse::Error(failed),
    };
    tracing::info!(operation = request.operation.as_str(), agent = %request.agent, "planner request");
    match request.operation {
        PlannerOperation::Questions => {
            match crate::questions(&request.goal, &request.survey, &model).await {
                Ok(questions) => PlannerResponse::Questions(PlannerQuestions { questions }),
                Err(error) => plan_failure(error),
            }
        }
        PlannerOperation::Propose => {
            match crate::propose(&request.goal, &request.survey, &request.answers, &model).await {
                Ok(proposal) => PlannerResponse::Proposal(PlannerProposal {
                    warnings: proposal
                        .warnings
                        .iter()
                        .map(ToString::to_string)
                        .chain(proposal.lint.iter().map(ToString::to_string))
                        .collect(),
                    tries: u32::try_from(proposal.tries).unwrap_or(u32::MAX),
                    usage: proposal.usage,
                    mission_toml: proposal.mission_toml,
                }),
                Err(error) => plan_failure(error),
            }
        }
    }
}

/// The chat model of profile `agents.<name>`, which must be of kind `llm`.
fn chat_model(
    name: &str,
    agents: &BTreeMap<String, AgentProfileSettings>,
) -> Result<ChatModel, PlannerFailure> {
    let Some(profile) = agents.get(name) else {
        let known: Vec<&str> = agents.keys().map(String::as_str).collect();
        return Err(failure_body(
            PlannerErrorCode::UnknownProfile,
            format!(
                "agents.{name} is not configured in the planner's settings (it has: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    if profile.kind != AgentKind::Llm {
        return Err(failure_body(
            PlannerErrorCode::InvalidProfile,
            format!(
                "agents.{name} is of kind {}; the planner needs a profile of kind llm",
                profile.kind.name()
            ),
        ));
    }
    LlmConfig::from_profile(name, profile)
        .and_then(ChatModel::new)
        .map_err(|error| failure_body(PlannerErrorCode::InvalidProfile, error.to_string()))
}

fn plan_failure(error: PlanError) -> PlannerResponse {
    let message = error.to_string();
    match error {
        PlanError::NoValidPlan { usage, .. } => PlannerResponse::Error(PlannerFailure {
            code: PlannerErrorCode::NoValidPlan,
            message,
            usage,
        }),
        PlanError::Model(_) => failure(PlannerErrorCode::ModelUnavailable, message),
    }
}

fn failure(code: PlannerErrorCode, message: String) -> PlannerResponse {
    PlannerResponse::Error(failure_body(code, message))
}

fn failure_body(code: PlannerErrorCode, message: String) -> PlannerFailure {
    PlannerFailure {
        code,
        message,
        usage: Usage::default(),
    }
}
