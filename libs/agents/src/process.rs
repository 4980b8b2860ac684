//! Running one shell command for an agent: in its own process group, with a limit, and
//! with the tail of its output kept.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sortie_model::records::CommandRun;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The most output a command run keeps: its tail.
pub(crate) const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// Run `sh -c command` in `dir`; a command still running at `limit` is killed with its
/// whole process group.
pub(crate) async fn run_shell(
    dir: &Path,
    command: &str,
    limit: Duration,
) -> std::io::Result<CommandRun> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let collect = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (read_out, read_err) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        read_out?;
        read_err?;
        out.extend_from_slice(&err);
        let status = child.wait().await?;
        std::io::Result::Ok((status, out))
    };
    let (exit_code, output) = match tokio::time::timeout(limit, collect).await {
        Ok(result) => {
            let (status, output) = result?;
            (status.code(), output)
        }
        Err(_) => {
            kill_group(child.id());
            let _ = child.kill().await;
            (
                None,
                format!(
                    "killed after {}s: the command's time limit",
                    limit.as_secs()
                )
                .into_bytes(),
            )
        }
    };
    Ok(CommandRun {
        command: command.to_owned(),
        exit_code,
        output_tail: tail(&output),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // The group leader's id is the group's id; `kill -KILL -<pgid>` reaches all of it.
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(format!("-{pid}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub(crate) fn tail(output: &[u8]) -> String {
    let start = output.len().saturating_sub(OUTPUT_TAIL_BYTES);
    String::from_utf8_lossy(&output[start..]).into_owned()
}
