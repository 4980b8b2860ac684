//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'candidate>(
    word: &str,
    candidates: impl IntoIterator<Item = &'candidate str>,
) -> Option<&'candidate str> {
    let word_length = word.chars().count();
    // Very long words are not typos of short names; this also bounds the work.
    if word_length > 200 {
        return None;
    }
    let allowed_distance = (word_length / 3).max(1);
    let lowercase_word = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = if candidate.to_lowercase() == lowercase_word {
            // Differs only in case: the likeliest mistake of all.
            0
        } else {
            edit_distance(&lowercase_word, &candidate.to_lowercase())
        };
        if distance <= allowed_distance
            && best.is_none_or(|(best_distance, _)| distance < best_distance)
        {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// ` (did you mean "x"?)` or nothing.
pub(crate) fn did_you_mean<'candidate>(
    word: &str,
    candidates: impl IntoIterator<Item = &'candidate str>,
) -> String {
    match closest(word, candidates) {
        Some(candidate) => format!(" (did you mean {candidate:?}?)"),
        None => String::new(),
    }
}

/// Levenshtein distance counted in characters, where swapping two neighbours costs one.
fn edit_distance(left: &str, right: &str) -> usize {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    let width = right.len() + 1;
    let mut rows = vec![0usize; (left.len() + 1) * width];
    for (column, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = column;
    }
    for row in 1..=left.len() {
        rows[row * width] = row;
        for column in 1..=right.len() {
            let substitution_cost = usize::from(left[row - 1] != right[column - 1]);
            let mut best = (rows[(row - 1) * width + column] + 1)
                .min(rows[row * width + column - 1] + 1)
                .min(rows[(row - 1) * width + column - 1] + substitution_cost);
            let is_transposition = row > 1
                && column > 1
                && left[row - 1] == right[column - 2]
                && left[row - 2] == right[column - 1];
            if is_transposition {
                best = best.min(rows[(row - 2) * width + column - 2] + 1);
            }
            rows[row * width + column] = best;
        }
    }
    rows[left.len() * width + right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("preconditoins", "preconditions"), 1);
    }

    #[test]
    fn suggests_close_names_only() {
        let known = ["F-AUTHN", "F-API", "F-DB"];
        assert_eq!(closest("F-AUTH", known), Some("F-AUTHN"));
        assert_eq!(closest("f-db", known), Some("F-DB"));
        assert_eq!(closest("something-else", known), None);
        assert_eq!(
            did_you_mean("milestnoe", ["milestone", "title"]),
            " (did you mean \"milestone\"?)"
        );
        assert_eq!(did_you_mean("zzz", ["milestone"]), "");
    }
}
