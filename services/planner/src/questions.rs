//! The questions a good engineer asks before planning, and the person's answers, which go
//! into the first proposal request.

use sortie_agents::llm::{ChatMessage, ChatModel};

use crate::prompt;
use crate::propose::{PlanError, REQUEST_TIME_LIMIT};
use crate::survey::Survey;
pub use sortie_model::planner::{Answer, Question, Response};

/// The most questions the person is asked; more in a reply are dropped.
pub const MAX_QUESTIONS: usize = 6;

/// At most [`MAX_QUESTIONS`] clarifying questions about `goal` in the surveyed repository,
/// from `model`; none when the goal is clear enough to plan.
pub async fn questions(
    goal: &str,
    survey: &Survey,
    model: &ChatModel,
) -> Result<Vec<Question>, PlanError> {
    let request = prompt::questions_request(goal, survey);
    let reply = model
        .complete(
            prompt::QUESTIONS_SYSTEM,
            &[ChatMessage::User(request)],
            REQUEST_TIME_LIMIT,
        )
        .await?;
    let questions = parse_questions(&reply.text);
    tracing::info!(questions = questions.len(), "the model asked its questions");
    Ok(questions)
}

/// The `<question id="...">...</question>` blocks of `reply`, in order, at most
/// [`MAX_QUESTIONS`]; empty ones and an unclosed last one are dropped.
pub(crate) fn parse_questions(reply: &str) -> Vec<Question> {
    let mut questions = Vec::new();
    let mut rest = reply;
    while questions.len() < MAX_QUESTIONS {
        let Some(open) = rest.find("<question") else {
            break;
        };
        let after_name = &rest[open + "<question".len()..];
        let Some(tag_end) = after_name.find('>') else {
            break;
        };
        let attributes = &after_name[..tag_end];
        let body_and_rest = &after_name[tag_end + 1..];
        // `<questions>` (a wrapper some models add) is not a question.
        let is_question_tag = attributes.is_empty() || attributes.starts_with(char::is_whitespace);
        if !is_question_tag {
            rest = body_and_rest;
            continue;
        }
        let Some(close) = body_and_rest.find("</question>") else {
            break;
        };
        let text = body_and_rest[..close].trim();
        rest = &body_and_rest[close + "</question>".len()..];
        if text.is_empty() {
            continue;
        }
        let id = attribute(attributes, "id")
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("q{}", questions.len() + 1), str::to_owned);
        questions.push(Question {
            id,
            text: text.to_owned(),
        });
    }
    questions
}

/// The value of `name="value"` (or single-quoted) among a tag's attributes.
fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    let start = attributes.find(&format!("{name}="))? + name.len() + 1;
    let quoted = &attributes[start..];
    let quote = quoted.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &quoted[1..];
    Some(&value[..value.find(quote)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_read_in_order_with_their_ids() {
        let reply = "A few questions:\n<question id=\"q1\">Which database?</question>\n\
                     <question id='q2'>\n  Keep the old API?\n</question>";
        assert_eq!(
            parse_questions(reply),
            vec![
                Question {
                    id: "q1".to_owned(),
                    text: "Which database?".to_owned()
                },
                Question {
                    id: "q2".to_owned(),
                    text: "Keep the old API?".to_owned()
                },
            ]
        );
    }

    #[test]
    fn a_reply_without_questions_has_none() {
        assert!(parse_questions("<no-questions/>").is_empty());
        assert!(parse_questions("The goal is clear.").is_empty());
        assert!(parse_questions("<question id=\"q1\">cut").is_empty());
    }

    #[test]
    fn missing_ids_are_numbered_wrappers_and_empty_questions_are_skipped() {
        let reply = "<questions>\n<question>First?</question>\n<question id=\"x\"> </question>\n\
                     <question>Second?</question>\n</questions>";
        let questions = parse_questions(reply);
        let ids: Vec<&str> = questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q1", "q2"]);
        assert_eq!(questions[1].text, "Second?");
    }

    #[test]
    fn no_more_than_the_bound_are_kept() {
        let reply: String = (1..=10)
            .map(|n| format!("<question id=\"q{n}\">Question {n}?</question>\n"))
            .collect();
        assert_eq!(parse_questions(&reply).len(), MAX_QUESTIONS);
    }
}
