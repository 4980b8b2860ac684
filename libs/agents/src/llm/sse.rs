//! Server-sent events, read incrementally from a response body's chunks.

/// One event: its `event:` name (if any) and its `data:` lines joined by newlines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

/// Splits a byte stream into events. Chunks may end anywhere, even inside a character.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    pending: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// Feed one chunk; returns the events it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(newline) = self.pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(event) = self.line(line) {
                events.push(event);
            }
        }
        events
    }

    /// The stream ended: the last event, when it was not followed by a blank line.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.pending);
        let rest = String::from_utf8_lossy(&rest).into_owned();
        let rest = rest.trim_end_matches(['\n', '\r']);
        if !rest.is_empty() {
            let _ = self.line(rest);
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let name = self.name.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { name, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            name: name.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_split_across_chunks_are_joined() {
        let mut parser = SseParser::default();
        let stream = "event: message_start\ndata: {\"a\":1}\n\n: a comment\ndata: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
        let mut events = Vec::new();
        for chunk in stream.as_bytes().chunks(3) {
            events.extend(parser.push(chunk));
        }
        assert_eq!(parser.finish(), None);
        assert_eq!(
            events,
            [
                event(Some("message_start"), "{\"a\":1}"),
                event(None, "x\ny"),
                event(None, "[DONE]"),
            ]
        );
    }

    #[test]
    fn a_character_split_between_chunks_survives() {
        let mut parser = SseParser::default();
        let bytes = "data: héllo\n\n".as_bytes();
        let split = bytes.iter().position(|byte| *byte > 127).expect("é") + 1;
        assert!(parser.push(&bytes[..split]).is_empty());
        assert_eq!(parser.push(&bytes[split..]), [event(None, "héllo")]);
    }

    #[test]
    fn a_last_event_without_a_blank_line_is_kept() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"event: ping\ndata: {}").is_empty());
        assert_eq!(parser.finish(), Some(event(Some("ping"), "{}")));
    }
}
