//! A small builder for running vapp against an emulator, in the style of ripgrep's and just's tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vapp::api::{Client, ClientConfig, Credentials};
use vapp::emulator::{Emulator, EmulatorConfig, RunningEmulator};

pub const KEY: &str = "test-key";
pub const SECRET: &str = "test-secret";

pub fn config() -> EmulatorConfig {
    EmulatorConfig { api_key: KEY.into(), api_secret: vapp::secret::Secret::new(SECRET), ..EmulatorConfig::default() }
}

/// Starts an emulator on a free loopback port of the current runtime.
pub async fn start(config: EmulatorConfig) -> RunningEmulator {
    Emulator::new(config)
        .await
        .expect("emulator")
        .start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("bind")
}

pub fn client_for(url: &str) -> Client {
    Client::new(ClientConfig::new(vapp::api::BaseUrl::parse(url).expect("url"), Credentials::new(KEY, SECRET)))
        .expect("client")
}

/// An emulator on its own runtime, for tests that drive the binary synchronously.
pub struct BackgroundEmulator {
    pub url: String,
    runtime: tokio::runtime::Runtime,
    running: Option<RunningEmulator>,
}

impl BackgroundEmulator {
    pub fn start(config: EmulatorConfig) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let running = runtime.block_on(start(config));
        BackgroundEmulator { url: running.url(), runtime, running: Some(running) }
    }

    /// Runs async work (client calls) on the emulator's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub fn client(&self) -> Client {
        client_for(&self.url)
    }
}

impl Drop for BackgroundEmulator {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.stop());
        }
    }
}

/// A scratch directory with manifests, and the vapp binary pointed at an emulator.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub api_url: String,
}

impl Workspace {
    pub fn new(api_url: &str) -> Self {
        Workspace { dir: tempfile::tempdir().expect("tempdir"), api_url: api_url.to_string() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    pub fn vapp(&self) -> Vapp {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vapp"));
        command
            .current_dir(self.dir.path())
            .env("VAPP_API_URL", &self.api_url)
            .env("VONAGE_API_KEY", KEY)
            .env("VONAGE_API_SECRET", SECRET)
            .env("NO_COLOR", "1")
            .env_remove("VAPP_STATE")
            .env_remove("VONAGE_SIGNATURE_SECRET")
            .stdin(Stdio::null());
        Vapp { command }
    }

    pub fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.path().join("vapp.state.json")).expect("state file");
        serde_json::from_str(&text).expect("state json")
    }
}

pub struct Vapp {
    command: Command,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Vapp {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Starts vapp in the background with stderr piped (to read its progress) and stdout discarded.
    pub fn spawn(mut self) -> std::process::Child {
        self.command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start vapp")
    }

    pub fn run(mut self) -> Run {
        let Output { status, stdout, stderr } = self.command.output().expect("run vapp");
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "vapp panicked: {run:?}");
        run
    }

    /// Runs and insists on `code`.
    pub fn expect(self, code: i32) -> Run {
        let run = self.run();
        assert_eq!(run.code, code, "{run:?}");
        run
    }
}

/// The real client with faults of its own, for executor tests: creating an application with a given
/// name fails with a 500, and PUT answers can be lost after the API carried the PUT out.
pub struct Faulty {
    pub inner: Client,
    pub fail_create_named: Option<&'static str>,
    pub lose_put_answers: bool,
}

impl vapp::api::ApplicationApi for Faulty {
    async fn list_all(&self) -> Result<Vec<vapp::model::Application>, vapp::api::ApiError> {
        self.inner.list_all().await
    }
    async fn get(&self, id: &vapp::model::AppId) -> Result<vapp::model::Application, vapp::api::ApiError> {
        self.inner.get(id).await
    }
    async fn create(&self, app: &vapp::model::Application) -> Result<vapp::model::Application, vapp::api::ApiError> {
        if self.fail_create_named == Some(app.name.as_str()) {
            let problem = vapp::api::Problem { title: "Internal Server Error".into(), ..Default::default() };
            return Err(vapp::api::ApiError::Status { status: 500, problem: Box::new(problem), retry_after: None });
        }
        self.inner.create(app).await
    }
    async fn update(
        &self,
        id: &vapp::model::AppId,
        app: &vapp::model::Application,
    ) -> Result<vapp::model::Application, vapp::api::ApiError> {
        let updated = self.inner.update(id, app).await?;
        if self.lose_put_answers {
            return Err(vapp::api::ApiError::Transport {
                url: "test".into(),
                maybe_sent: true,
                source: "connection reset".into(),
            });
        }
        Ok(updated)
    }
    async fn delete(&self, id: &vapp::model::AppId) -> Result<(), vapp::api::ApiError> {
        self.inner.delete(id).await
    }
}

/// A progress listener that listens to nothing, for executor tests.
pub struct Quiet;

impl vapp::apply::Progress for Quiet {
    fn started(&self, _: &vapp::plan::Change) {}
    fn finished(&self, _: &vapp::plan::Change, _: &vapp::apply::StepResult, _: std::time::Duration) {}
}

/// The repository's own directory, for examples and schemas.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Key pairs made once for every test in this binary (making keys is slow), in parallel.
pub fn key_pool() -> &'static [vapp::keys::KeyPair] {
    static POOL: std::sync::OnceLock<Vec<vapp::keys::KeyPair>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let per_worker = KEY_POOL_SIZE.div_ceil(workers);
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                std::thread::spawn(move || (0..per_worker).map(|_| vapp::keys::generate().unwrap()).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).take(KEY_POOL_SIZE).collect()
    })
}

pub const KEY_POOL_SIZE: usize = 40;
