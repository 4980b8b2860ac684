//! The conversation with the model, in a form neither protocol owns, and the context
//! budget that keeps it small enough.

/// One message of the conversation after the system prompt.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Message {
    User(String),
    Assistant {
        text: String,
        calls: Vec<ToolCall>,
    },
    /// The results of the previous assistant message's tool calls, in its order.
    ToolResults(Vec<ToolResult>),
}

/// A tool the model asked for. `arguments` is the JSON text the model wrote, which may
/// not be valid JSON.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolResult {
    pub(crate) call_id: String,
    pub(crate) content: String,
    pub(crate) is_error: bool,
}

/// What one model request returned, in either protocol.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ModelReply {
    pub(crate) text: String,
    pub(crate) calls: Vec<ToolCall>,
    /// Why the model stopped, in the protocol's words (`end_turn`, `max_tokens`, `stop`,
    /// `length`, `tool_use`, `tool_calls`).
    pub(crate) stop_reason: Option<String>,
    pub(crate) usage: TurnUsage,
}

impl ModelReply {
    /// Whether the model stopped because it hit its output limit.
    pub(crate) fn hit_output_limit(&self) -> bool {
        matches!(self.stop_reason.as_deref(), Some("max_tokens" | "length"))
    }
}

/// Tokens of one model request. `input_tokens` are uncached (Anthropic's cache writes
/// count as input); `cached_input_tokens` were read from the prompt cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TurnUsage {
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cached_input_tokens: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conversation {
    pub(crate) system: String,
    pub(crate) messages: Vec<Message>,
}

/// What a tool output elided for the budget becomes.
const ELIDED_MARK: &str = "[output elided to stay within the context budget";
/// Characters kept at each end of an output that is truncated for the budget.
const TRUNCATED_KEEP_CHARS: usize = 1_000;
/// A rough, protocol-neutral token estimate: about four characters a token, plus a few
/// tokens of framing a message.
const CHARS_PER_TOKEN: usize = 4;
const TOKENS_PER_MESSAGE: u64 = 4;

impl Conversation {
    pub(crate) fn new(system: String, task: String) -> Self {
        Self {
            system,
            messages: vec![Message::User(task)],
        }
    }

    /// The conversation's size in tokens, estimated from its characters.
    pub(crate) fn estimated_tokens(&self, tool_definitions_chars: usize) -> u64 {
        let mut chars = self.system.len() + tool_definitions_chars;
        for message in &self.messages {
            chars += match message {
                Message::User(text) => text.len(),
                Message::Assistant { text, calls } => {
                    text.len()
                        + calls
                            .iter()
                            .map(|call| call.name.len() + call.arguments.len() + call.id.len())
                            .sum::<usize>()
                }
                Message::ToolResults(results) => results
                    .iter()
                    .map(|result| result.content.len() + result.call_id.len())
                    .sum(),
            };
        }
        (chars / CHARS_PER_TOKEN) as u64 + TOKENS_PER_MESSAGE * self.messages.len() as u64
    }

    /// Shrink the conversation below `budget` tokens: elide old tool outputs first, oldest
    /// first, keeping the latest results; then truncate long outputs, the latest too, to
    /// their two ends. Returns how many outputs were changed.
    pub(crate) fn fit(&mut self, budget: u64, tool_definitions_chars: usize) -> usize {
        let mut changed = 0;
        let latest_results = self
            .messages
            .iter()
            .rposition(|message| matches!(message, Message::ToolResults(_)));
        for index in 0..self.messages.len() {
            if self.estimated_tokens(tool_definitions_chars) <= budget {
                return changed;
            }
            if Some(index) == latest_results {
                continue;
            }
            if let Message::ToolResults(results) = &mut self.messages[index] {
                for result in results.iter_mut() {
                    if !result.content.starts_with(ELIDED_MARK) {
                        result.content = format!(
                            "{ELIDED_MARK}: it had {} characters]",
                            result.content.chars().count()
                        );
                        changed += 1;
                    }
                }
            }
        }
        for message in &mut self.messages {
            if let Message::ToolResults(results) = message {
                for result in results.iter_mut() {
                    if let Some(shorter) = truncate_middle(&result.content) {
                        result.content = shorter;
                        changed += 1;
                    }
                }
            }
        }
        changed
    }
}

/// The text's two ends with its middle replaced by a note, when it is long.
fn truncate_middle(text: &str) -> Option<String> {
    let total = text.chars().count();
    if total <= 2 * TRUNCATED_KEEP_CHARS + 200 {
        return None;
    }
    let head: String = text.chars().take(TRUNCATED_KEEP_CHARS).collect();
    let tail: String = text.chars().skip(total - TRUNCATED_KEEP_CHARS).collect();
    let elided = total - 2 * TRUNCATED_KEEP_CHARS;
    Some(format!(
        "{head}\n{ELIDED_MARK}: {elided} characters of the middle]\n{tail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(content: &str) -> Message {
        Message::ToolResults(vec![ToolResult {
            call_id: "c".to_owned(),
            content: content.to_owned(),
            is_error: false,
        }])
    }

    fn contents(conversation: &Conversation) -> Vec<String> {
        conversation
            .messages
            .iter()
            .filter_map(|message| match message {
                Message::ToolResults(results) => Some(results[0].content.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn old_outputs_are_elided_before_the_latest() {
        let mut conversation = Conversation::new("system".to_owned(), "task".to_owned());
        for _ in 0..3 {
            conversation.messages.push(Message::Assistant {
                text: String::new(),
                calls: vec![],
            });
            conversation.messages.push(results(&"x".repeat(4_000)));
        }
        let before = conversation.estimated_tokens(0);
        assert!(before > 3_000);
        let changed = conversation.fit(1_500, 0);
        assert_eq!(changed, 2);
        let contents = contents(&conversation);
        assert!(contents[0].starts_with(ELIDED_MARK));
        assert!(contents[1].starts_with(ELIDED_MARK));
        assert_eq!(contents[2].len(), 4_000, "the latest output is kept whole");
        assert!(conversation.estimated_tokens(0) <= 1_500);
    }

    #[test]
    fn the_latest_output_is_truncated_when_eliding_is_not_enough() {
        let mut conversation = Conversation::new("system".to_owned(), "task".to_owned());
        conversation
            .messages
            .push(results(&format!("start{}end", "y".repeat(40_000))));
        conversation.fit(1_000, 0);
        let content = &contents(&conversation)[0];
        assert!(content.starts_with("start"));
        assert!(content.ends_with("end"));
        assert!(content.contains("characters of the middle"));
        assert!(content.len() < 3_000);
    }

    #[test]
    fn a_conversation_within_budget_is_left_alone() {
        let mut conversation = Conversation::new("system".to_owned(), "task".to_owned());
        conversation.messages.push(results("short"));
        assert_eq!(conversation.fit(10_000, 0), 0);
        assert_eq!(contents(&conversation), ["short"]);
    }
}
