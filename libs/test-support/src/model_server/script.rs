//! What the scripted model server answers: a named list of turns, one per model request.

use serde_json::Value;

/// The turns a [`super::ModelServer`] answers with, in order, and the name it gives when a
/// request comes past the last one.
#[derive(Clone, Debug)]
pub struct Script {
    pub(crate) name: String,
    pub(crate) turns: Vec<Turn>,
    /// Models whose requests are a CLI's background calls, answered aside.
    pub(crate) side_models: Vec<String>,
}

impl Script {
    pub fn new(name: impl Into<String>, turns: impl IntoIterator<Item = Turn>) -> Self {
        Self {
            name: name.into(),
            turns: turns.into_iter().collect(),
            side_models: Vec::new(),
        }
    }

    /// Requests for a model whose name starts with `model_prefix` (a CLI's background
    /// calls: titles, summaries, token counts) are answered with a short text, use no
    /// turn, and are recorded without one.
    pub fn with_side_model(mut self, model_prefix: impl Into<String>) -> Self {
        self.side_models.push(model_prefix.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }
}

/// One model request's answer: a reply (text and tool calls), or a fault.
#[derive(Clone, Debug)]
pub enum Turn {
    Reply(Reply),
    Fault(Fault),
}

/// What the model says: some text, then tool calls. Without tool calls it ends its turn
/// (`end_turn`, `stop`); with them it asks for their results (`tool_use`, `tool_calls`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

/// A tool the model asks to run. Without an explicit id the server names it
/// `call_<turn>_<index>`, the same in every protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: Option<String>,
    pub name: String,
    pub arguments: Value,
}

/// The tokens one reply reports. `input_tokens` are the uncached input tokens; each
/// protocol reports them its own way (OpenAI's prompt tokens include the cached ones,
/// Anthropic's input tokens do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            input_tokens: 100,
            output_tokens: 20,
            cached_input_tokens: 0,
        }
    }
}

/// A way for a model request to go wrong.
#[derive(Clone, Debug)]
pub enum Fault {
    /// An HTTP error status. Without a body the server writes the protocol's own error
    /// object; `retry_after` sets the `retry-after` header, in seconds.
    Status {
        status: u16,
        body: Option<String>,
        retry_after: Option<u64>,
    },
    /// A 200 whose body is not what the protocol promises (sent as a server-sent event
    /// when the request streams).
    Malformed { body: String },
    /// No answer at all, until the server is dropped.
    Hang,
    /// The reply's first `after_events` events (or, for a request that does not stream,
    /// the first half of its JSON), then the connection is cut.
    CutStream { reply: Reply, after_events: usize },
}

impl Turn {
    /// A reply with text; it ends the model's turn unless tool calls are added to it.
    pub fn text(text: impl Into<String>) -> Self {
        Turn::Reply(Reply {
            text: Some(text.into()),
            ..Reply::default()
        })
    }

    /// The model's last word: text that ends its turn, with no tool calls.
    pub fn final_answer(text: impl Into<String>) -> Self {
        Self::text(text)
    }

    /// A reply that asks for one tool.
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::tool_calls([(name, arguments)])
    }

    /// A reply that asks for several tools at once.
    pub fn tool_calls<N: Into<String>>(calls: impl IntoIterator<Item = (N, Value)>) -> Self {
        Turn::Reply(Reply {
            text: None,
            tool_calls: calls
                .into_iter()
                .map(|(name, arguments)| ToolCall {
                    id: None,
                    name: name.into(),
                    arguments,
                })
                .collect(),
            usage: Usage::default(),
        })
    }

    /// This reply, asking for one more tool after what it already has.
    pub fn and_tool_call(self, name: impl Into<String>, arguments: Value) -> Self {
        self.map_reply(|reply| {
            reply.tool_calls.push(ToolCall {
                id: None,
                name: name.into(),
                arguments,
            });
        })
    }

    /// This reply, with its tool calls given explicit ids (in order).
    pub fn with_ids<I: Into<String>>(self, ids: impl IntoIterator<Item = I>) -> Self {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        self.map_reply(|reply| {
            for (call, id) in reply.tool_calls.iter_mut().zip(ids) {
                call.id = Some(id);
            }
        })
    }

    /// This reply, reporting these tokens.
    pub fn with_usage(self, usage: Usage) -> Self {
        self.map_reply(|reply| reply.usage = usage)
    }

    /// This reply, cut off after its first `after_events` server-sent events.
    pub fn cut_after(self, after_events: usize) -> Self {
        match self {
            Turn::Reply(reply) => Turn::Fault(Fault::CutStream {
                reply,
                after_events,
            }),
            Turn::Fault(Fault::CutStream { reply, .. }) => Turn::Fault(Fault::CutStream {
                reply,
                after_events,
            }),
            fault => fault,
        }
    }

    /// An HTTP error with this status and body.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Turn::Fault(Fault::Status {
            status,
            body: Some(body.into()),
            retry_after: None,
        })
    }

    /// An HTTP error with this status and the protocol's own error object.
    pub fn error_status(status: u16) -> Self {
        Turn::Fault(Fault::Status {
            status,
            body: None,
            retry_after: None,
        })
    }

    /// 429 Too Many Requests, with `retry-after: 0`.
    pub fn rate_limited() -> Self {
        Turn::Fault(Fault::Status {
            status: 429,
            body: None,
            retry_after: Some(0),
        })
    }

    /// A 200 whose body is not the protocol's.
    pub fn malformed(body: impl Into<String>) -> Self {
        Turn::Fault(Fault::Malformed { body: body.into() })
    }

    /// A request that is never answered.
    pub fn hang() -> Self {
        Turn::Fault(Fault::Hang)
    }

    fn map_reply(mut self, change: impl FnOnce(&mut Reply)) -> Self {
        match &mut self {
            Turn::Reply(reply) | Turn::Fault(Fault::CutStream { reply, .. }) => change(reply),
            Turn::Fault(_) => {}
        }
        self
    }
}

impl Reply {
    /// The tool calls with their ids, explicit or `call_<turn>_<index>`.
    pub(crate) fn identified_calls(&self, turn: usize) -> Vec<(String, &ToolCall)> {
        self.tool_calls
            .iter()
            .enumerate()
            .map(|(index, call)| {
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{turn}_{index}"));
                (id, call)
            })
            .collect()
    }
}

/// `text` in up to three pieces, split at character boundaries, as a model streams it.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let characters: Vec<char> = text.chars().collect();
    if characters.len() < 3 {
        return vec![text.to_owned()];
    }
    let third = characters.len() / 3;
    vec![
        characters[..third].iter().collect(),
        characters[third..2 * third].iter().collect(),
        characters[2 * third..].iter().collect(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pieces_join_back_to_the_text() {
        for text in ["", "ab", "héllo wörld", "{\"path\":\"src/lib.rs\"}"] {
            assert_eq!(pieces(text).concat(), text);
        }
        assert_eq!(pieces("abcdef").len(), 3);
    }

    #[test]
    fn calls_are_named_by_turn_and_index_unless_given_ids() {
        let Turn::Reply(reply) = Turn::text("looking")
            .and_tool_call("read_file", json!({"path": "a"}))
            .and_tool_call("read_file", json!({"path": "b"}))
        else {
            panic!("a reply");
        };
        let ids: Vec<String> = reply
            .identified_calls(4)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["call_4_0", "call_4_1"]);
        let Turn::Reply(reply) = Turn::tool_call("x", json!({})).with_ids(["toolu_mine"]) else {
            panic!("a reply");
        };
        assert_eq!(reply.identified_calls(0)[0].0, "toolu_mine");
    }
}
