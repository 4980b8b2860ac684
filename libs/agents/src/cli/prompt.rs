//! The prompt a CLI agent gets: how Sortie wants it to work, the skill, AGENTS.md, the
//! feature, and the handoff format it must end with; or, for a reviewer, its brief and the
//! form of its answer.

use std::fmt::Write as _;

use super::HANDOFF_FORMAT;
use crate::{AgentRequest, AgentRole, AgentTask};

pub(crate) fn prompt(request: &AgentRequest) -> String {
    let mut prompt = match request.role {
        AgentRole::Worker => String::from(
            "You are working for Sortie on one feature of a software project, in its git \
             workspace (the current directory).\n\
             \n\
             How to work:\n\
             - Look before you change: list, search and read the files that matter.\n\
             - Make the smallest change that does the feature well; keep the code's style.\n\
             - Run the build and the tests the feature names, and fix what fails.\n\
             - Do not commit, branch or push: Sortie commits your changes and integrates them.\n\
             - Change only the paths the feature allows; changes anywhere else fail it.\n",
        ),
        AgentRole::Reviewer => String::from(
            "You are reviewing for Sortie: you judge work on a software project, in a \
             checkout of its git repository (the current directory).\n\
             \n\
             How to work:\n\
             - Look at the evidence yourself: read the files, run the commands. Claim only \
               what you have seen.\n\
             - Never change, create or delete a file.\n",
        ),
    };
    if request.allowed_commands.is_empty() {
        prompt.push_str("- No shell commands are allowed.\n");
    } else {
        let _ = writeln!(
            prompt,
            "- Only shell commands that start with one of these are allowed: {}.",
            request.allowed_commands.join(", ")
        );
    }
    prompt.push_str(&crate::llm::prompt::context(request));
    prompt.push('\n');
    match &request.task {
        AgentTask::Feature(_) => {
            prompt.push_str(&crate::llm::prompt::feature(request));
            let _ = write!(
                prompt,
                "\nWhen the feature is done, or you cannot go further, end your final message \
                 with your handoff, exactly in this form:\n{HANDOFF_FORMAT}\n"
            );
        }
        AgentTask::Brief(brief) => {
            prompt.push_str(&crate::llm::prompt::brief_text(brief));
            let _ = write!(
                prompt,
                "\nWhen you are done, your final message is your whole answer, exactly in \
                 this form:\n{}\n",
                brief.answer_format.trim()
            );
        }
    }
    prompt
}
