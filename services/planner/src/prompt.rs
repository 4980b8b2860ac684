//! What the planner tells the model: the mission-file format, the goal and the survey,
//! and, after a refused answer, what was wrong with it.

use std::fmt::Write as _;

use sortie_model::lint::LintFinding;
use sortie_model::mission_file::Diagnostics;

use crate::questions::{Answer, Response};
use crate::survey::Survey;

/// The essentials of `docs/mission-file.md`, for a model that has never seen it.
pub(crate) const SYSTEM: &str = r#"You are the planner of Sortie, an orchestrator that runs software missions with coding agents. Given a goal and a survey of a repository, you write the mission file: a plan in TOML that workers carry out feature by feature, and that validators check assertion by assertion.

Answer with exactly one ```toml fenced block holding the whole mission file, and nothing else of substance.

# The mission file format

[mission]: `name` (an id, it becomes the branch sortie/<name>) and `goal` (the goal in the asker's words).

[[repositories]]: exactly one here, with the `name` and `url` given in the survey; leave `base_branch` out unless the survey says otherwise.

[[milestones]] (at least one, worked and validated in order): `id`, `title`, `description`. Every milestone needs at least one feature.

[[features]] (at least one; one unit of work for one worker, small enough for an hour or two):
- `id` (like "F-API-ROUTES"), `title`, `milestone` (a milestone id), `description` (what to build, for the worker);
- `preconditions`: feature ids that must be done first, in the same or an earlier milestone, with no cycles;
- `touches`: globs of the paths the feature may change, relative to the repository root (`src/api/**`, `README.md`); never absolute, never `..`; features with disjoint touches run in parallel;
- `expected_behavior`: list of what is true once it is done;
- `verification`: list of commands the worker runs to check its work;
- `fulfills`: the assertion ids this feature makes true;
- `skill`: optional, the name of a skill from the survey;
- `estimate_minutes`: optional integer.
Never write `steps`, `fix` or `[[scripted_fixes]]`.

[[assertions]] (the validation contract, written before any code): `id` of the form VAL-AREA-NNN (upper-case letters or digits, then exactly three digits: VAL-API-001), `statement` (one sentence), and `check`, one of:
- check = { kind = "command", run = "cargo test --locked" } (optional expect_exit, expect_output as a regex, timeout_seconds);
- check = { kind = "http", service = "api", method = "GET", path = "/health", expect_status = 200, expect_body = "ok" } (the service must be in [[services.start]]);
- check = { kind = "agent", instructions = "...", evidence = ["command", "file_excerpt"] } (evidence from: command, http_exchange, screenshot, file_excerpt).
Every assertion must be fulfilled by at least one feature, and every feature should fulfill at least one assertion.

[services.commands] (optional): named shell commands; `build`, `test` and `lint` are run at milestone ends.
[[services.start]] (optional): services to start for HTTP checks: `name`, `run` (foreground command), `port`, `health` (a path answering 2xx once up).

Ids of milestones, features, repositories and services are made of [A-Za-z0-9._-] and are unique per kind.

# An example

```toml
[mission]
name = "hello-api"
goal = "An HTTP service that says hello"

[[repositories]]
name = "hello"
url = "/srv/repos/hello"

[[milestones]]
id = "m1"
title = "It answers"

[[features]]
id = "F-SERVER"
title = "A server that answers GET /hello"
milestone = "m1"
description = "An axum server on port 8080 with GET /hello answering a greeting, and a test."
touches = ["src/**", "Cargo.toml"]
verification = ["cargo test --locked"]
fulfills = ["VAL-HELLO-001", "VAL-HELLO-002"]

[[features]]
id = "F-README"
title = "A README that says how to run it"
milestone = "m1"
preconditions = ["F-SERVER"]
touches = ["README.md"]
fulfills = ["VAL-DOCS-001"]

[[assertions]]
id = "VAL-HELLO-001"
statement = "The tests pass"
check = { kind = "command", run = "cargo test --locked" }

[[assertions]]
id = "VAL-HELLO-002"
statement = "GET /hello answers 200 with a greeting"
check = { kind = "http", service = "api", path = "/hello", expect_status = 200, expect_body = "hello" }

[[assertions]]
id = "VAL-DOCS-001"
statement = "The README explains how to start the service"
check = { kind = "agent", instructions = "Read README.md and follow it to start the service.", evidence = ["command", "file_excerpt"] }

[services.commands]
build = "cargo build --locked"
test = "cargo test --locked"

[[services.start]]
name = "api"
run = "cargo run --locked"
port = 8080
health = "/hello"
```

Plan with the repository's own tools and conventions (from its build files, README and AGENTS.md). Prefer a few milestones with several small features each over one large feature.
"#;

/// The system prompt of the questions before planning.
pub(crate) const QUESTIONS_SYSTEM: &str = r#"You are the planner of Sortie, an orchestrator that runs software missions with coding agents. Given a goal and a survey of a repository, you will later write a mission plan that coding agents carry out. Before planning, ask the person who set the goal the clarifying questions a good engineer would ask: only questions whose answers would change the plan (scope, behaviour, interfaces, constraints, what counts as done), not what the survey already answers.

Ask at most 6, each in its own block, numbered:

<question id="q1">Which database should the notes be stored in?</question>
<question id="q2">Should the old endpoints keep working?</question>

If the goal is clear enough to plan, answer only <no-questions/>."#;

/// The request for questions: the goal and the survey.
pub(crate) fn questions_request(goal: &str, survey: &Survey) -> String {
    let mut text = goal_and_survey(goal, survey);
    text.push_str("\nAsk your questions now, or answer <no-questions/>.");
    text
}

/// The first message: the goal, the survey and the person's answers to the questions.
pub(crate) fn first_request(goal: &str, survey: &Survey, answers: &[Answer]) -> String {
    let mut text = goal_and_survey(goal, survey);
    if !answers.is_empty() {
        text.push_str("\n# The asker's answers to your questions\n\n");
        for answer in answers {
            let response = match &answer.response {
                Response::Text(response) => response.trim(),
                Response::Skipped => "(no answer: assume what is most reasonable)",
                Response::DecideYourself => "(decide yourself)",
            };
            let _ = write!(
                text,
                "{} {}\nAnswer: {}\n\n",
                answer.question.id, answer.question.text, response
            );
        }
    }
    text.push_str("\nWrite the mission file now, in one ```toml block.");
    text
}

/// The message asking for a revision of the last mission file.
pub(crate) fn revision(instruction: &str) -> String {
    format!(
        "The asker wants this plan changed:\n\n{}\n\nAnswer with the whole revised mission \
         file in one ```toml block.",
        instruction.trim()
    )
}

/// The goal and the survey, as both requests give them.
fn goal_and_survey(goal: &str, survey: &Survey) -> String {
    format!(
        "# The goal\n\n{}\n\n# The repository\n\nUse this repository in [[repositories]]: name = {:?}, url = {:?}.\n\n{}",
        goal.trim(),
        survey.repository_name,
        survey.root.display().to_string(),
        survey.render()
    )
}

/// The message after an answer the parser refused, with every diagnostic.
pub(crate) fn refused(diagnostics: &Diagnostics) -> String {
    format!(
        "Sortie refused that mission file. The parser's diagnostics (file:line:column: \
         severity[code]: field: message):\n\n```text\n{diagnostics}\n```\n\nFix every \
         error and answer with the whole corrected mission file in one ```toml block."
    )
}

/// The message after an answer the parser accepted but the planning lint refused.
pub(crate) fn linted(findings: &[LintFinding]) -> String {
    let listed: Vec<String> = findings.iter().map(ToString::to_string).collect();
    format!(
        "The mission file parses, but Sortie's planning lint refuses it:\n\n```text\n{}\n```\n\n\
         Fix every error and answer with the whole corrected mission file in one ```toml \
         block.",
        listed.join("\n")
    )
}

/// The message after an answer without a ```toml block.
pub(crate) const NO_TOML_BLOCK: &str = "Your answer had no ```toml block. Answer with the \
     whole mission file in exactly one ```toml fenced block.";

/// The text of the first ```toml fenced block of `reply`, when it has one that is closed.
pub(crate) fn toml_block(reply: &str) -> Option<&str> {
    let start = reply.find("```toml")?;
    let after_fence = &reply[start + "```toml".len()..];
    let body_start = after_fence.find('\n')? + 1;
    let body = &after_fence[body_start..];
    let end = body
        .match_indices("```")
        .find(|(index, _)| *index == 0 || body[..*index].ends_with('\n'))?
        .0;
    Some(&body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toml_block_is_found_between_its_fences() {
        let reply = "Here it is:\n```toml\n[mission]\nname = \"x\"\n```\nDone.";
        assert_eq!(toml_block(reply), Some("[mission]\nname = \"x\"\n"));
    }

    #[test]
    fn a_reply_without_a_closed_toml_block_has_none() {
        assert_eq!(toml_block("no block at all"), None);
        assert_eq!(toml_block("```json\n{}\n```"), None);
        assert_eq!(toml_block("```toml\n[mission]\nname = \"cut"), None);
    }

    #[test]
    fn the_example_in_the_prompt_is_a_valid_mission_file() {
        let example_section = &SYSTEM[SYSTEM.find("# An example").expect("the section")..];
        let example = toml_block(example_section).expect("the example");
        let parsed = sortie_model::mission_file::parse("example.toml", example);
        assert!(parsed.is_ok(), "{:?}", parsed.err().map(|d| d.to_string()));
    }
}
