//! Compare-and-swap pushes of a branch from a mirror.

use crate::cache::Mirror;
use crate::error::{GitError, GitResult};
use crate::refs::CommitId;
use crate::url::strip_credentials;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushResult {
    Pushed,
    /// The branch was not at the expected commit (or, for a creation, already existed).
    Moved,
}

/// Sets `branch` on the mirror's remote to `new` only if it is at `expected` now (or, with
/// `None`, only if it does not exist). The remote checks the old value inside its ref
/// transaction, so this is an exact compare-and-swap.
pub(crate) async fn push_with_lease(
    mirror: &Mirror,
    branch: &str,
    new: &CommitId,
    expected: Option<&CommitId>,
) -> GitResult<PushResult> {
    swap(mirror, branch, Some(new), expected).await
}

/// Deletes `branch` on the mirror's remote only if it is at `expected` now.
pub(crate) async fn delete_with_lease(
    mirror: &Mirror,
    branch: &str,
    expected: &CommitId,
) -> GitResult<PushResult> {
    swap(mirror, branch, None, Some(expected)).await
}

/// Sets (`Some`) or deletes (`None`) `branch`, leased on `expected`.
async fn swap(
    mirror: &Mirror,
    branch: &str,
    new: Option<&CommitId>,
    expected: Option<&CommitId>,
) -> GitResult<PushResult> {
    let destination = format!("refs/heads/{branch}");
    let expected_text = expected.map(CommitId::as_str).unwrap_or_default();
    let output = mirror
        .git()
        .command(mirror.path())
        .args(["push", "--porcelain", "--no-verify"])
        .arg(format!("--force-with-lease={destination}:{expected_text}"))
        .arg("--")
        .arg(mirror.url())
        .arg(format!(
            "{}:{destination}",
            new.map(CommitId::as_str).unwrap_or_default()
        ))
        .remote()
        .output()
        .await?;
    let stdout = output.stdout_text();
    let Some(status) = ref_status(&stdout, &destination) else {
        return if output.success() {
            Err(output.unexpected(format!("no status for {destination}")))
        } else {
            Err(output.into_error())
        };
    };
    match classify(&status) {
        StatusClass::Updated => Ok(PushResult::Pushed),
        StatusClass::Moved => Ok(PushResult::Moved),
        StatusClass::Refused => Err(GitError::PushRefused {
            url: strip_credentials(mirror.url()),
            branch: branch.to_owned(),
            reason: format!("{} {}", status.summary, output.stderr_text().trim())
                .trim()
                .to_owned(),
        }),
    }
}

/// One line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`.
#[derive(Debug, PartialEq, Eq)]
struct RefStatus {
    flag: char,
    summary: String,
}

fn ref_status(stdout: &str, destination: &str) -> Option<RefStatus> {
    stdout.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let flag = fields.next()?.chars().next()?;
        let (_, to) = fields.next()?.rsplit_once(':')?;
        let summary = fields.next().unwrap_or_default();
        (to == destination).then(|| RefStatus {
            flag,
            summary: summary.to_owned(),
        })
    })
}

#[derive(Debug, PartialEq, Eq)]
enum StatusClass {
    Updated,
    Moved,
    Refused,
}

fn classify(status: &RefStatus) -> StatusClass {
    match status.flag {
        // Fast-forward, forced update, new ref, deleted ref, or already up to date.
        ' ' | '+' | '*' | '-' | '=' => StatusClass::Updated,
        '!' if status.summary.starts_with("[rejected]") => StatusClass::Moved,
        // The remote lost the race inside its own ref transaction.
        '!' if status.summary.contains("lock") || status.summary.contains("failed to update") => {
            StatusClass::Moved
        }
        _ => StatusClass::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(line: &str) -> RefStatus {
        ref_status(&format!("To /srv/r.git\n{line}\nDone\n"), "refs/heads/main").unwrap()
    }

    #[test]
    fn porcelain_lines_are_classified() {
        let sha = "a".repeat(40);
        let updated = status_of(&format!(" \t{sha}:refs/heads/main\t1111..2222"));
        assert_eq!(classify(&updated), StatusClass::Updated);
        let created = status_of(&format!("*\t{sha}:refs/heads/main\t[new branch]"));
        assert_eq!(classify(&created), StatusClass::Updated);
        let stale = status_of(&format!(
            "!\t{sha}:refs/heads/main\t[rejected] (stale info)"
        ));
        assert_eq!(classify(&stale), StatusClass::Moved);
        let lost_race = status_of(&format!(
            "!\t{sha}:refs/heads/main\t[remote rejected] (failed to update ref)"
        ));
        assert_eq!(classify(&lost_race), StatusClass::Moved);
        let hook = status_of(&format!(
            "!\t{sha}:refs/heads/main\t[remote rejected] (pre-receive hook declined)"
        ));
        assert_eq!(classify(&hook), StatusClass::Refused);
    }

    #[test]
    fn other_refs_are_ignored() {
        let sha = "a".repeat(40);
        let stdout = format!("To r\n \t{sha}:refs/heads/other\tx\nDone\n");
        assert_eq!(ref_status(&stdout, "refs/heads/main"), None);
    }
}
