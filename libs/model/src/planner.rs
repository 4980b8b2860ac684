//! What the planner service is asked on the bus and what it answers, as the bodies of
//! [`Envelope`](crate::messages::Envelope)s. Bodies only gain fields.
//!
//! A request names the `agents.<name>` profile the planner talks to; the planner holds the
//! profiles, the caller holds the repository (it sends the [`Survey`]).

use serde::{Deserialize, Serialize};

use crate::records::Usage;
use crate::survey::Survey;

/// The envelope kind of a planner request.
pub const PLANNER_REQUEST_KIND: &str = "planner_request";
/// The envelope kind of a planner response.
pub const PLANNER_RESPONSE_KIND: &str = "planner_response";

/// One clarifying question from the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The model's id for it (`q1`), or its place in the reply when it gave none.
    pub id: String,
    pub text: String,
}

/// What the person said to a question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Response {
    Text(String),
    /// No answer: the planner assumes what is most reasonable and says so.
    Skipped,
    /// The person leaves the choice to the planner.
    DecideYourself,
}

/// A question and the person's response to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: Question,
    pub response: Response,
}

/// What the planner can be asked; each operation has its own subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannerOperation {
    /// Clarifying questions about a goal.
    Questions,
    /// A mission file for a goal.
    Propose,
}

impl PlannerOperation {
    pub const ALL: [PlannerOperation; 2] = [PlannerOperation::Questions, PlannerOperation::Propose];

    pub fn as_str(self) -> &'static str {
        match self {
            PlannerOperation::Questions => "questions",
            PlannerOperation::Propose => "propose",
        }
    }
}

/// A request to the planner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannerRequest {
    pub operation: PlannerOperation,
    pub goal: String,
    pub survey: Survey,
    /// The person's answers to the planner's questions; none for `questions`.
    #[serde(default)]
    pub answers: Vec<Answer>,
    /// The `agents.<name>` profile (of kind `llm`) the planner talks to.
    pub agent: String,
}

/// The planner's answer to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlannerResponse {
    Questions(PlannerQuestions),
    Proposal(PlannerProposal),
    Error(PlannerFailure),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannerQuestions {
    /// None when the goal is clear enough to plan.
    pub questions: Vec<Question>,
}

/// A mission file the parser accepted and the planning lint found no error in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannerProposal {
    pub mission_toml: String,
    /// The parser's and the lint's warnings, one a line, each with its code and place.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How many answers it took, the accepted one included.
    pub tries: u32,
    #[serde(default)]
    pub usage: Usage,
}

/// Why the planner did not answer a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannerFailure {
    pub code: PlannerErrorCode,
    /// What went wrong, naming the setting, field or problem.
    pub message: String,
    /// Tokens and dollars spent before it failed.
    #[serde(default)]
    pub usage: Usage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannerErrorCode {
    /// The request is not a planner request this planner reads.
    BadRequest,
    /// The request names a profile the planner's settings do not have.
    UnknownProfile,
    /// The profile is not of kind `llm`, or is missing what the model needs.
    InvalidProfile,
    /// Every answer of the model was refused.
    NoValidPlan,
    /// The model did not answer.
    ModelUnavailable,
    /// A code this reader does not know yet.
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_every_response_round_trip_through_json() {
        let request = PlannerRequest {
            operation: PlannerOperation::Propose,
            goal: "Add /health".to_owned(),
            survey: Survey::default(),
            answers: vec![Answer {
                question: Question {
                    id: "q1".to_owned(),
                    text: "Which port?".to_owned(),
                },
                response: Response::Text("8080".to_owned()),
            }],
            agent: "planner".to_owned(),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert!(json.contains(r#""operation":"propose""#), "{json}");
        assert_eq!(
            serde_json::from_str::<PlannerRequest>(&json).unwrap(),
            request
        );
        let failure = PlannerResponse::Error(PlannerFailure {
            code: PlannerErrorCode::UnknownProfile,
            message: "agents.x is not configured".to_owned(),
            usage: Usage::default(),
        });
        let json = serde_json::to_string(&failure).unwrap();
        assert!(json.contains(r#""outcome":"error""#), "{json}");
        assert_eq!(
            serde_json::from_str::<PlannerResponse>(&json).unwrap(),
            failure
        );
    }

    #[test]
    fn an_unknown_error_code_is_still_read() {
        let json = r#"{"outcome":"error","code":"rate_limited","message":"later","extra":1}"#;
        let response: PlannerResponse = serde_json::from_str(json).unwrap();
        let PlannerResponse::Error(failure) = response else {
            panic!("not an error: {response:?}");
        };
        assert_eq!(failure.code, PlannerErrorCode::Other);
    }
}
