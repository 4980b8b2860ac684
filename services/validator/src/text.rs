//! Cutting output and bodies down to what evidence keeps, on character boundaries.

use std::io::SeekFrom;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The most of a command's combined output its evidence keeps: the end of it.
pub const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// The most of an HTTP response body its evidence keeps: the start of it.
pub const BODY_EXCERPT_BYTES: usize = 16 * 1024;

/// The first `limit` bytes of `bytes` as text, ending on a character boundary.
pub(crate) fn head_text(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut end = limit;
    while end > 0 && (bytes[end] & 0b1100_0000) == 0b1000_0000 {
        end -= 1;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `text` cut to its last `limit` bytes, on a character boundary.
pub(crate) fn keep_tail(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.replace_range(..start, "");
}

/// `text` cut to its first `limit` bytes, on a character boundary.
pub(crate) fn keep_head(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

/// The last `limit` bytes of a file as text; empty when the file is missing.
pub(crate) async fn file_tail(path: &Path, limit: usize) -> std::io::Result<String> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => return Err(error),
    };
    let length = file.metadata().await?.len();
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    let start = length.saturating_sub(limit_u64);
    file.seek(SeekFrom::Start(start)).await?;
    let mut bytes = Vec::with_capacity(limit.min(usize::try_from(length).unwrap_or(limit)));
    file.take(limit_u64).read_to_end(&mut bytes).await?;
    // Started mid-file: the first bytes may be the end of a character.
    let skip = if start > 0 {
        bytes
            .iter()
            .take_while(|byte| (**byte & 0b1100_0000) == 0b1000_0000)
            .count()
    } else {
        0
    };
    Ok(String::from_utf8_lossy(&bytes[skip..]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_ends_on_a_character() {
        let text = "aé€z".as_bytes();
        assert_eq!(head_text(text, 100), "aé€z");
        assert_eq!(head_text(text, 3), "aé");
        assert_eq!(head_text(text, 2), "a");
        assert_eq!(head_text(text, 0), "");
    }

    #[test]
    fn strings_are_cut_in_place_on_characters() {
        let mut tail = "aé€z".to_owned();
        keep_tail(&mut tail, 5);
        assert_eq!(tail, "€z");
        let mut head = "aé€z".to_owned();
        keep_head(&mut head, 5);
        assert_eq!(head, "aé");
        let mut short = "ok".to_owned();
        keep_tail(&mut short, 10);
        keep_head(&mut short, 10);
        assert_eq!(short, "ok");
    }

    #[tokio::test]
    async fn a_file_tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut content = "x".repeat(100);
        content.push_str("é the end");
        std::fs::write(&path, &content).unwrap();
        assert_eq!(file_tail(&path, 10).await.unwrap(), "é the end");
        assert_eq!(file_tail(&path, 9).await.unwrap(), " the end");
        assert_eq!(file_tail(&path, 1000).await.unwrap(), content);
        assert_eq!(file_tail(&dir.path().join("none"), 10).await.unwrap(), "");
    }
}
