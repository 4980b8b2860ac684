//! NATS for tests: a prefix of its own on the shared server, or a private server to kill.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;

const START_SHARED_NATS: &str = "start-stop-daemon --start --oknodo --background \
     --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server \
     -l /var/log/nats-server.log";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The server tests use: `SORTIE_TEST_NATS_URL`, or the machine's local NATS.
pub fn nats_url() -> String {
    std::env::var("SORTIE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A unique subject and stream prefix on the shared NATS server, so that tests running at
/// the same time never see each other's messages. Its streams are deleted when it is
/// dropped (or at [`TestNats::cleanup`]).
#[derive(Debug)]
pub struct TestNats {
    pub url: String,
    /// `t_` and twelve hex digits: a valid bus prefix.
    pub prefix: String,
    client: async_nats::Client,
    cleaned: bool,
}

impl TestNats {
    /// A new prefix on the shared server. Fails, with the way to start NATS, when the
    /// server does not answer: a test never quietly skips.
    pub async fn new() -> anyhow::Result<Self> {
        let url = nats_url();
        let client = connect(&url).await.with_context(|| {
            format!(
                "NATS with JetStream at {url} is not answering; start it with \
                 `{START_SHARED_NATS}` or set SORTIE_TEST_NATS_URL"
            )
        })?;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            url,
            prefix: format!("t_{}", &unique[..12]),
            client,
            cleaned: false,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A plain client on the shared server, for checks the bus does not offer.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The streams that hold only this prefix's subjects.
    pub async fn streams(&self) -> anyhow::Result<Vec<String>> {
        prefix_streams(&self.client, &self.prefix).await
    }

    /// Delete this prefix's streams, with every message they hold, as a bus that lost its
    /// store would; the test goes on. Returns how many were deleted.
    pub async fn lose_streams(&self) -> anyhow::Result<usize> {
        let count = prefix_streams(&self.client, &self.prefix).await?.len();
        delete_prefix_streams(&self.client, &self.prefix).await?;
        Ok(count)
    }

    /// Delete this prefix's streams now.
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        self.cleaned = true;
        delete_prefix_streams(&self.client, &self.prefix).await
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        // Drop runs inside the test's runtime; a thread of its own can block on its own.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = connect(&url).await?;
                delete_prefix_streams(&client, &prefix).await
            })
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "could not delete the test streams of prefix {}",
                self.prefix
            );
        }
    }
}

async fn prefix_streams(client: &async_nats::Client, prefix: &str) -> anyhow::Result<Vec<String>> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let subject_prefix = format!("{prefix}.");
    let mut streams = jetstream.streams();
    let mut names = Vec::new();
    while let Some(info) = streams.next().await {
        let info = info.context("listing streams")?;
        let subjects = &info.config.subjects;
        let ours = !subjects.is_empty()
            && subjects
                .iter()
                .all(|subject| subject.starts_with(&subject_prefix));
        if ours {
            names.push(info.config.name);
        }
    }
    Ok(names)
}

async fn delete_prefix_streams(client: &async_nats::Client, prefix: &str) -> anyhow::Result<()> {
    let jetstream = async_nats::jetstream::new(client.clone());
    for name in prefix_streams(client, prefix).await? {
        jetstream
            .delete_stream(&name)
            .await
            .with_context(|| format!("deleting stream {name}"))?;
    }
    Ok(())
}

/// Connect and prove JetStream answers.
async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .request_timeout(Some(CONNECT_TIMEOUT))
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    // A raw request: the client's typed account info does not parse a 2.9 server's.
    let reply: serde_json::Value = async_nats::jetstream::new(client.clone())
        .request("INFO", &serde_json::json!({}))
        .await
        .with_context(|| format!("asking {url} for its JetStream account"))?;
    if let Some(error) = reply.get("error") {
        bail!("{url} has no JetStream: {error}");
    }
    Ok(client)
}

/// A NATS server of the test's own, on a free port with its store in a temporary
/// directory, for tests that kill or restart the server. Killed, and its directory
/// removed, when dropped.
#[derive(Debug)]
pub struct PrivateNats {
    binary: PathBuf,
    port: u16,
    directory: PathBuf,
    child: Option<Child>,
}

impl PrivateNats {
    /// Start a server and wait until it answers. Fails, with the way to install it, when
    /// `nats-server` is missing.
    pub async fn start() -> anyhow::Result<Self> {
        let binary = nats_server_binary()?;
        let port = free_port()?;
        let directory =
            std::env::temp_dir().join(format!("sortie-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(directory.join("store"))
            .with_context(|| format!("creating {}", directory.display()))?;
        let mut server = Self {
            binary,
            port,
            directory,
            child: None,
        };
        server.launch().await?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> PathBuf {
        self.directory.join("store")
    }

    /// The server's process id while it runs, for `kill -STOP` and the like.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kill the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing nats-server")?;
            child.wait().context("waiting for nats-server to exit")?;
        }
        Ok(())
    }

    /// Kill the server if it runs, and start it again on the same port and store.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.launch().await
    }

    /// Kill the server if it runs, delete its store (every stream and message), and start
    /// it again on the same port.
    pub async fn restart_wiped(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        let store = self.store_dir();
        std::fs::remove_dir_all(&store).with_context(|| format!("removing {}", store.display()))?;
        std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
        self.launch().await
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        debug_assert!(self.child.is_none(), "one server at a time");
        let log = self.directory.join("nats-server.log");
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store_dir())
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_until_ready(&log).await
    }

    async fn wait_until_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let url = self.url();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("checking nats-server")?
            {
                self.child = None;
                bail!(
                    "nats-server exited with {status} before answering; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            let attempt = tokio::time::timeout(Duration::from_secs(2), connect(&url)).await;
            if let Ok(Ok(_client)) = attempt {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "nats-server at {url} did not answer within {READY_TIMEOUT:?}; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Err(error) = self.kill() {
            eprintln!("could not stop the private nats-server: {error:#}");
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// `nats-server` on the PATH, or where Debian installs it.
fn nats_server_binary() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|directory| directory.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    let debian = PathBuf::from("/usr/sbin/nats-server");
    match on_path {
        Some(path) => Ok(path),
        None if debian.is_file() => Ok(debian),
        None => {
            bail!("nats-server is not installed; install it with `apt-get install -y nats-server`")
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
