//! What the model is told: how to work (the system prompt, with the repository's
//! AGENTS.md and the skill's instructions) and the task itself (the first message): a
//! worker's feature, or a reviewer's brief and the form of its answer.

use std::fmt::Write as _;

use crate::{AgentRequest, AgentRole, AgentTask, Brief};

pub(crate) fn system(request: &AgentRequest) -> String {
    let mut prompt = match request.role {
        AgentRole::Worker => String::from(
            "You are Sortie's coding agent. You work on one feature of a software project, in \
             its git workspace, only through the tools you are given. Paths are relative to \
             the workspace root; nothing outside the workspace can be read or written.\n\
             \n\
             How to work:\n\
             - Look before you change: list, search and read the files that matter.\n\
             - Make the smallest change that does the feature well; keep the code's style.\n\
             - Prefer edit_file for changes to existing files; copy old_text exactly.\n\
             - Run the build and the tests the feature names, and fix what fails.\n\
             - Do not commit, branch or push: Sortie commits your changes and integrates them.\n\
             - When the feature is done, or you cannot go further, call finish once with a \
               summary of what you did and a list of what was left undone. Your work ends \
               there; text without tool calls does not end it.\n",
        ),
        AgentRole::Reviewer => String::from(
            "You are Sortie's reviewer. You judge work on a software project, in a checkout \
             of its git repository, only through the tools you are given. Paths are relative \
             to the checkout's root. You read and run; you never change a file.\n\
             \n\
             How to work:\n\
             - Look at the evidence yourself: read the files, run the commands. Claim only \
               what you have seen.\n\
             - When you have your answer, call finish once with your whole answer, in the \
               form the brief asks, as its summary. Your review ends there; text without \
               tool calls does not end it.\n",
        ),
    };
    if request.allowed_commands.is_empty() {
        prompt.push_str("\nNo shell commands are allowed in this workspace.\n");
    } else {
        let _ = write!(
            prompt,
            "\nrun_command runs `sh -c` in the workspace root. Only commands that start \
             with one of these prefixes are allowed: {}. Anything else is denied.\n",
            request.allowed_commands.join(", ")
        );
    }
    prompt.push_str(&context(request));
    prompt
}

/// What the work carries beyond the feature: the skill's instructions and the
/// repository's AGENTS.md.
pub(crate) fn context(request: &AgentRequest) -> String {
    let mut prompt = String::new();
    if let Some(skill) = &request.skill {
        let _ = write!(
            prompt,
            "\n# Skill: {}\n{}\n\n{}\n",
            skill.name,
            skill.description,
            skill.instructions.trim()
        );
    }
    if let Some(agents_md) = request
        .agents_md
        .as_deref()
        .filter(|text| !text.trim().is_empty())
    {
        let _ = write!(
            prompt,
            "\n# The repository's AGENTS.md\n{}\n",
            agents_md.trim()
        );
    }
    prompt
}

/// The first user message: the feature or the brief, and how to end the work.
pub(crate) fn task(request: &AgentRequest) -> String {
    match &request.task {
        AgentTask::Feature(_) => {
            let mut task = feature(request);
            task.push_str(
                "\nWork on the feature now. When you are done, call finish with your handoff: \
                 a summary of what you did, and what was left undone.\n",
            );
            task
        }
        AgentTask::Brief(brief) => {
            let mut task = brief_text(brief);
            let _ = write!(
                task,
                "\nWork on it now. When you are done, call finish with your whole answer as \
                 its summary, exactly in this form:\n{}\n",
                brief.answer_format.trim()
            );
            task
        }
    }
}

/// A brief, under its title.
pub(crate) fn brief_text(brief: &Brief) -> String {
    format!("# {}\n\n{}\n", brief.title, brief.text.trim())
}

/// The feature, as the plan gives it: title, description, expected behaviour,
/// verification and the paths it may change. Empty for a brief.
pub(crate) fn feature(request: &AgentRequest) -> String {
    let AgentTask::Feature(feature) = &request.task else {
        return String::new();
    };
    let mut task = format!("# Feature {}: {}\n", feature.id, feature.title);
    if !feature.description.trim().is_empty() {
        let _ = write!(task, "\n{}\n", feature.description.trim());
    }
    let mut list = |heading: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        let _ = write!(task, "\n## {heading}\n");
        for item in items {
            let _ = writeln!(task, "- {item}");
        }
    };
    list("Expected behaviour", &feature.expected_behavior);
    list("Verification", &feature.verification);
    list(
        "Paths you may change (changes anywhere else fail the feature)",
        &feature.touches,
    );
    task
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_model::plan::{Feature, SkillDefinition};
    use std::time::Duration;

    #[test]
    fn the_prompt_carries_the_feature_skill_agents_md_and_commands() {
        let request = AgentRequest {
            workspace: "/tmp/w".into(),
            role: AgentRole::Worker,
            task: AgentTask::Feature(Feature {
                id: "F-NOTES".into(),
                title: "Notes endpoint".to_owned(),
                milestone: "m1".into(),
                repository: "app".into(),
                description: "Add GET /notes.".to_owned(),
                skill: Some("backend".to_owned()),
                preconditions: vec![],
                expected_behavior: vec!["GET /notes answers 200".to_owned()],
                verification: vec!["cargo test notes".to_owned()],
                fulfills: vec![],
                touches: vec!["src/notes.rs".to_owned()],
                estimate_minutes: None,
                steps: vec![],
                fix: None,
            }),
            skill: Some(SkillDefinition {
                name: "backend".to_owned(),
                description: "Rust services".to_owned(),
                instructions: "Write a test first.".to_owned(),
            }),
            agents_md: Some("Run cargo fmt.".to_owned()),
            time_limit: Duration::from_secs(60),
            allowed_commands: vec!["cargo test".to_owned()],
            max_turns: None,
            mcp_servers: Vec::new(),
        };
        let system = system(&request);
        assert!(system.contains("# Skill: backend"));
        assert!(system.contains("Write a test first."));
        assert!(system.contains("Run cargo fmt."));
        assert!(system.contains("prefixes are allowed: cargo test."));
        let task = task(&request);
        assert!(task.starts_with("# Feature F-NOTES: Notes endpoint"));
        assert!(task.contains("- GET /notes answers 200"));
        assert!(task.contains("- cargo test notes"));
        assert!(task.contains("- src/notes.rs"));
        assert!(task.contains("call finish"));
    }

    #[test]
    fn a_reviewer_is_told_to_read_only_and_to_answer_in_the_brief_s_form() {
        let request = AgentRequest {
            workspace: "/tmp/w".into(),
            role: AgentRole::Reviewer,
            task: AgentTask::Brief(Brief {
                title: "Check VAL-API-001".to_owned(),
                text: "Is GET /notes documented?".to_owned(),
                answer_format: "<verdict>pass</verdict> or <verdict>fail</verdict>".to_owned(),
            }),
            skill: None,
            agents_md: None,
            time_limit: Duration::from_secs(60),
            allowed_commands: vec!["cat".to_owned()],
            max_turns: None,
            mcp_servers: Vec::new(),
        };
        let system = system(&request);
        assert!(system.contains("you never change a file"), "{system}");
        assert!(!system.contains("edit_file"), "{system}");
        let task = task(&request);
        assert!(task.starts_with("# Check VAL-API-001\n\nIs GET /notes documented?"));
        assert!(task.ends_with("<verdict>pass</verdict> or <verdict>fail</verdict>\n"));
        assert!(feature(&request).is_empty());
    }
}
