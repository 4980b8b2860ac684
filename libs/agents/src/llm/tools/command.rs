//! Which shell commands the model may run: each command of a pipeline or list must start
//! with an allowed prefix. This is a policy guard against commands the feature has no
//! business running, not a sandbox.

/// Why `command` is denied, or nothing when every part of it starts with one of the
/// `allowed` prefixes (at a word boundary: `cargo test` allows `cargo test -p x`, not
/// `cargo testx`).
pub(crate) fn denial(command: &str, allowed: &[String]) -> Option<String> {
    if command.trim().is_empty() {
        return Some("the command is empty".to_owned());
    }
    let parts = match split(command) {
        Ok(parts) => parts,
        Err(reason) => return Some(reason),
    };
    for part in parts {
        if !allowed
            .iter()
            .any(|prefix| starts_with_words(&part, prefix))
        {
            let allowed_list = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            return Some(format!(
                "`{part}` is not an allowed command here; allowed command prefixes: \
                 {allowed_list}"
            ));
        }
    }
    None
}

fn starts_with_words(command: &str, prefix: &str) -> bool {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return false;
    }
    match command.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with(char::is_whitespace),
        None => false,
    }
}

/// The simple commands of a shell list or pipeline (split at `;`, `&&`, `||`, `|`, `&`
/// and newlines outside quotes), with leading `VAR=value` assignments removed. Command
/// substitution, and redirections that write outside the workspace, are refused.
fn split(command: &str) -> Result<Vec<String>, String> {
    let characters: Vec<char> = command.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut single = false;
    let mut double = false;
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let next = characters.get(index + 1).copied();
        let previous = index.checked_sub(1).map(|before| characters[before]);
        if single {
            single = character != '\'';
            current.push(character);
            index += 1;
            continue;
        }
        match character {
            '\\' => {
                current.push(character);
                if let Some(escaped) = next {
                    current.push(escaped);
                    index += 1;
                }
            }
            '\'' if !double => {
                single = true;
                current.push(character);
            }
            '"' => {
                double = !double;
                current.push(character);
            }
            '`' => return Err("command substitution (`...`) is not allowed".to_owned()),
            '$' if next == Some('(') => {
                return Err("command substitution ($(...)) is not allowed".to_owned());
            }
            '<' | '>' if !double && next == Some('(') => {
                return Err("process substitution is not allowed".to_owned());
            }
            '>' if !double => {
                check_redirect_target(&characters[index + 1..])?;
                current.push(character);
            }
            ';' | '\n' if !double => parts.push(std::mem::take(&mut current)),
            '|' if !double => {
                parts.push(std::mem::take(&mut current));
                if next == Some('|') {
                    index += 1;
                }
            }
            '&' if !double => {
                let redirect = matches!(previous, Some('>' | '<')) || next == Some('>');
                if redirect {
                    current.push(character);
                } else {
                    parts.push(std::mem::take(&mut current));
                    if next == Some('&') {
                        index += 1;
                    }
                }
            }
            _ => current.push(character),
        }
        index += 1;
    }
    if single || double {
        return Err("the command has an unclosed quote".to_owned());
    }
    parts.push(current);
    Ok(parts
        .into_iter()
        .map(|part| without_assignments(part.trim()))
        .filter(|part| !part.is_empty())
        .collect())
}

/// A redirection's target must stay in the workspace: no absolute path but `/dev/null`,
/// no `..`, no home directory.
fn check_redirect_target(after: &[char]) -> Result<(), String> {
    let rest: String = after.iter().collect();
    let rest = rest.trim_start_matches(['>', '|']).trim_start();
    if rest.starts_with('&') {
        return Ok(());
    }
    let target: String = rest
        .chars()
        .take_while(|character| !character.is_whitespace() && !";|&".contains(*character))
        .collect();
    let target = target.trim_matches(['"', '\'']);
    let leaves = (target.starts_with('/') && target != "/dev/null")
        || target.starts_with('~')
        || target.split('/').any(|part| part == "..");
    if leaves {
        return Err(format!(
            "redirecting output to {target} is not allowed: it is outside the workspace"
        ));
    }
    Ok(())
}

/// `A=1 B=2 cargo test` is `cargo test` for the allow list.
fn without_assignments(part: &str) -> String {
    let mut rest = part;
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_')
        });
        if !is_assignment || word_end == rest.len() {
            return rest.to_owned();
        }
        rest = rest[word_end..].trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        ["cargo test", "ls", "grep", "echo", "git status"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn commands_with_allowed_prefixes_run() {
        for command in [
            "cargo test",
            "cargo test -p sortie-agents 2>&1",
            "ls -la src | grep lib",
            "RUST_LOG=debug cargo test && git status",
            "echo 'a; curl evil' > notes.txt",
            "echo \"x | y\" >> out.txt; ls",
            "cargo test > /dev/null",
        ] {
            assert_eq!(denial(command, &allowed()), None, "{command}");
        }
    }

    #[test]
    fn other_commands_are_denied() {
        for command in [
            "curl http://example.com",
            "cargo testx",
            "cargo build",
            "ls; rm -rf /",
            "ls && curl x",
            "ls || wget x",
            "ls & sleep 100",
            "echo $(rm -rf /)",
            "echo `id`",
            "echo x > /etc/passwd",
            "echo x > ../outside",
            "echo x >~/profile",
            "echo 'unclosed",
            "",
        ] {
            assert!(
                denial(command, &allowed()).is_some(),
                "{command} was allowed"
            );
        }
        assert!(denial("ls", &[]).unwrap().contains("none"));
    }
}
