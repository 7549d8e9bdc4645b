//! Real engines for the shared state backends, started by the tests on this machine: a PostgreSQL
//! server from the Debian package's binaries (initdb in a temporary directory, run as an unprivileged
//! user when the tests run as root, listening on a Unix socket and on 127.0.0.1), and the moto S3
//! server (conditional writes included) from its virtual environment. One of each per test binary;
//! each test uses a workspace, schema or bucket of its own.
//!
//! Missing engines fail the tests that need them, saying how to install them
//! (`bash scripts/install-test-engines.sh`): CI runs these tests, never skips them.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const INSTALL: &str = "install them with `bash scripts/install-test-engines.sh` (what .ci/run does)";

/// A PostgreSQL server for the whole test binary. Its wrapper shell waits on a pipe from this process:
/// when the tests end, the pipe closes, the server stops and its directory is removed.
pub struct Postgres {
    pub socket_dir: PathBuf,
    pub port: u16,
    _wrapper: Child,
}

impl Postgres {
    pub fn shared() -> &'static Postgres {
        static SERVER: OnceLock<Postgres> = OnceLock::new();
        SERVER.get_or_init(Postgres::start)
    }

    /// A state URL over the Unix socket, for `workspace` in `schema`.
    pub fn url(&self, schema: &str, workspace: &str) -> String {
        format!(
            "postgresql:///postgres?host={}&port={}&user=postgres&schema={schema}&workspace={workspace}",
            self.socket_dir.display(),
            self.port
        )
    }

    /// The same over TCP on 127.0.0.1.
    pub fn tcp_url(&self, schema: &str, workspace: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?schema={schema}&workspace={workspace}", self.port)
    }

    fn start() -> Postgres {
        let bin = std::env::var_os("PG_BIN")
            .map(PathBuf::from)
            .or_else(newest_postgres)
            .unwrap_or_else(|| panic!("PostgreSQL's server binaries (initdb, postgres) are not installed: {INSTALL}"));
        let dir = tempfile::Builder::new().prefix("vapp-pg").tempdir_in("/tmp").expect("tempdir").keep();
        let port = free_port();
        let script = r#"
set -e
"$BIN/initdb" -D "$D/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$D/initdb.log" 2>&1
"$BIN/postgres" -D "$D/data" -k "$D" -p "$PORT" -c listen_addresses=127.0.0.1 -c max_connections=200 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$D/server.log" 2>&1 &
pg=$!
read _ || true
kill -INT $pg; wait $pg || true
rm -rf "$D"
"#;
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(script)
            .env("BIN", &bin)
            .env("D", &dir)
            .env("PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // initdb and postgres refuse to run as root.
        if std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false) {
            let (uid, gid) = unprivileged_user();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown");
            command.uid(uid).gid(gid).env("HOME", &dir);
        }
        let mut wrapper = command.spawn().expect("start the PostgreSQL wrapper");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h"])
                .arg(&dir)
                .args(["-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            if let Ok(Some(status)) = wrapper.try_wait() {
                let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default()
                    + &std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("PostgreSQL did not start ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start within 120 s");
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = wrapper.stdin.as_mut().map(|s| s.flush());
        Postgres { socket_dir: dir, port, _wrapper: wrapper }
    }
}

fn newest_postgres() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// `postgres` (from the package), else `nobody`.
fn unprivileged_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() > 3 && fields[0] == wanted {
                if let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse()) {
                    return (uid, gid);
                }
            }
        }
    }
    (65534, 65534)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The moto S3 server for the whole test binary, on 127.0.0.1 (port 0: it picks one and says which).
pub struct Moto {
    pub endpoint: String,
    _wrapper: Child,
}

impl Moto {
    pub fn shared() -> &'static Moto {
        static SERVER: OnceLock<Moto> = OnceLock::new();
        SERVER.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let program = moto_server().unwrap_or_else(|| panic!("the moto S3 server is not installed: {INSTALL}"));
        // A wrapper shell that stops moto when this process ends (its stdin pipe closes then).
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#""$MOTO" -H 127.0.0.1 -p 0 & m=$!; read _ || true; kill $m; wait $m || true"#)
            .env("MOTO", &program)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stderr = child.stderr.take().expect("moto's stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // moto logs a line per request on stderr: read it for ever, or it blocks once the pipe fills.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Running on http://").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(format!("http://{}", rest.trim()));
                    }
                }
            }
        });
        let endpoint = rx.recv_timeout(Duration::from_secs(60)).expect("moto said where it listens");
        Moto { endpoint, _wrapper: child }
    }

    /// A new, empty bucket of this name (moto takes an unsigned `PUT /bucket`).
    pub fn bucket(&self, name: &str) {
        use std::io::Read;
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
        let request = format!("PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "cannot make bucket {name}: {answer}");
    }

    /// The environment a vapp run needs to use this store.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// [`Moto::env`] as a backend reads it (for library-level tests: nothing sets a variable in this
    /// multi-threaded test process).
    pub fn engine_env(&self) -> vapp::state::backend::EngineEnv {
        vapp::state::backend::EngineEnv::from_pairs(self.env().into_iter().map(|(k, v)| (k.to_string(), v)))
    }
}

fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VAPP_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let venv = std::env::var_os("VAPP_MOTO_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/vapp/moto-venv")))?;
    let program = venv.join("bin/moto_server");
    program.exists().then_some(program)
}
