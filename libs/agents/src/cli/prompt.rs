//! The prompt a CLI agent gets: how Sortie wants it to work, the skill, AGENTS.md, the
//! feature, and the handoff format it must end with.

use std::fmt::Write as _;

use super::HANDOFF_FORMAT;
use crate::AgentRequest;

pub(crate) fn prompt(request: &AgentRequest) -> String {
    let mut prompt = String::from(
        "You are working for Sortie on one feature of a software project, in its git \
         workspace (the current directory).\n\
         \n\
         How to work:\n\
         - Look before you change: list, search and read the files that matter.\n\
         - Make the smallest change that does the feature well; keep the code's style.\n\
         - Run the build and the tests the feature names, and fix what fails.\n\
         - Do not commit, branch or push: Sortie commits your changes and integrates them.\n\
         - Change only the paths the feature allows; changes anywhere else fail it.\n",
    );
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
    prompt.push_str(&crate::llm::prompt::feature(request));
    let _ = write!(
        prompt,
        "\nWhen the feature is done, or you cannot go further, end your final message with \
         your handoff, exactly in this form:\n{HANDOFF_FORMAT}\n"
    );
    prompt
}
