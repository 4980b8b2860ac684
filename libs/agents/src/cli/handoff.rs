//! The handoff a CLI agent writes at the end of its final message, and how it is read.

/// What a CLI agent is told to end its final message with.
pub const HANDOFF_FORMAT: &str = "<handoff>\n\
summary: what you did, in a few sentences\n\
left undone:\n\
- each thing you did not finish, one a line (or none)\n\
</handoff>";

/// The summary and the things left undone from the last `<handoff>` block of `text`.
/// Without a block, the whole text is the summary and nothing is said to be left undone.
pub fn parse_handoff(text: &str) -> (String, Vec<String>) {
    let Some(start) = text.rfind("<handoff>") else {
        return (text.trim().to_owned(), Vec::new());
    };
    let body = &text[start + "<handoff>".len()..];
    let body = body.split("</handoff>").next().unwrap_or(body);
    let mut summary = Vec::new();
    let mut left_undone = Vec::new();
    let mut in_left_undone = false;
    for line in body.lines() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        if let Some(rest) = lower
            .strip_prefix("left undone:")
            .map(|_| &trimmed["left undone:".len()..])
        {
            in_left_undone = true;
            push_item(&mut left_undone, rest);
        } else if in_left_undone {
            push_item(&mut left_undone, trimmed.trim_start_matches(['-', '*']));
        } else if let Some(rest) = lower
            .strip_prefix("summary:")
            .map(|_| &trimmed["summary:".len()..])
        {
            summary.push(rest.trim().to_owned());
        } else if !trimmed.is_empty() {
            summary.push(trimmed.to_owned());
        }
    }
    (summary.join(" ").trim().to_owned(), left_undone)
}

fn push_item(items: &mut Vec<String>, item: &str) {
    let item = item.trim();
    let nothing = matches!(
        item.to_lowercase().trim_end_matches('.'),
        "" | "none" | "nothing" | "n/a"
    );
    if !nothing {
        items.push(item.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_block_is_read() {
        let text = "I looked around.\n<handoff>\nsummary: old\n</handoff>\nThen more.\n\
                    <handoff>\nsummary: Added GET /health.\nIt returns 200.\nleft undone:\n\
                    - metrics endpoint\n* docs\n</handoff>";
        let (summary, left) = parse_handoff(text);
        assert_eq!(summary, "Added GET /health. It returns 200.");
        assert_eq!(left, ["metrics endpoint", "docs"]);
    }

    #[test]
    fn none_left_undone_is_an_empty_list() {
        let (summary, left) =
            parse_handoff("<handoff>\nSummary: done\nLeft undone: none\n</handoff>");
        assert_eq!(summary, "done");
        assert!(left.is_empty());
        let (_, left) = parse_handoff("<handoff>\nsummary: done\nleft undone:\n- nothing.\n");
        assert!(left.is_empty());
    }

    #[test]
    fn without_a_block_the_text_is_the_summary() {
        let (summary, left) = parse_handoff("  Wrote the file.  ");
        assert_eq!(summary, "Wrote the file.");
        assert!(left.is_empty());
    }
}
