//! A real Azurite table service for the ledger tests (the tests install and start it
//! themselves), shared by every test in one test binary; and its blob service, for the
//! dead-letter replay's tests ([`Azurite::shared_blob`]).
//!
//! Once per binary: `npm install azurite@3` into `<target>/tmp/azurite` when its
//! `azurite-table` is missing (nothing committed, nothing outside the target directory), then
//! `azurite-table` on a free loopback port with in-memory persistence. Azurite prints the port
//! it was asked for (`--tablePort 0` is echoed as `:0`), so a port is chosen by binding one and
//! letting it go, retried when Azurite loses the race for it.
//!
//! Azurite is stopped when the test binary ends however it ends (pass, panic, abort, killed):
//! it runs under `sh`, which waits on a pipe from this process and kills Azurite when the pipe
//! closes, since a `static`'s `Drop` never runs. [`Azurite`]'s own `Drop` kills it too.
//!
//! No `npm` on PATH is a test failure with a message, never a silent skip.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

/// Azurite's well-known development account.
pub(crate) const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development key (public, documented).
pub(crate) const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite service.
pub(crate) struct Azurite {
    child: Child,
    addr: SocketAddr,
}

/// Which of Azurite's services: each is its own script, flags and ready line.
#[derive(Debug, Clone, Copy)]
enum Service {
    Table,
    Blob,
}

impl Service {
    /// The script, its host and port flags, and the words of its ready line.
    fn script(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Service::Table => (
                "azurite-table",
                "--tableHost",
                "--tablePort",
                "successfully started",
            ),
            Service::Blob => (
                "azurite-blob",
                "--blobHost",
                "--blobPort",
                "successfully listens",
            ),
        }
    }
}

impl Azurite {
    /// The one Azurite table service of this test binary, installed and started on first use.
    pub(crate) fn shared() -> &'static Azurite {
        static AZURITE: OnceLock<Azurite> = OnceLock::new();
        AZURITE.get_or_init(|| Azurite::launch(Service::Table))
    }

    /// The one Azurite blob service of this test binary, installed and started on first use.
    pub(crate) fn shared_blob() -> &'static Azurite {
        static AZURITE: OnceLock<Azurite> = OnceLock::new();
        AZURITE.get_or_init(|| Azurite::launch(Service::Blob))
    }

    fn launch(service: Service) -> Azurite {
        let started = Instant::now();
        let bin = install().join(service.script().0);
        let azurite = Azurite::start(&bin, service);
        eprintln!(
            "azurite: {service:?} service at {} ready after {:.1} s",
            azurite.addr,
            started.elapsed().as_secs_f64()
        );
        azurite
    }

    /// A connection string for this Azurite's blob service (see [`Azurite::shared_blob`]).
    pub(crate) fn blob_connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={}",
            self.endpoint()
        )
    }

    /// `http://127.0.0.1:<port>/devstoreaccount1`: the path-style endpoint.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}/{ACCOUNT}", self.addr)
    }

    /// The table service's address.
    pub(crate) fn address(&self) -> SocketAddr {
        self.addr
    }

    /// A connection string for the table service at `endpoint` (this Azurite, or a proxy in
    /// front of it), with Azurite's account and key.
    pub(crate) fn connection_string_at(endpoint: &str) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};TableEndpoint={endpoint}/{ACCOUNT}"
        )
    }

    /// A connection string for this Azurite.
    pub(crate) fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};TableEndpoint={}",
            self.endpoint()
        )
    }

    fn start(bin: &PathBuf, service: Service) -> Azurite {
        let (_, host_flag, port_flag, ready_words) = service.script();
        // In-memory persistence refuses `--location`; the working folder catches anything else.
        let workspace = dir().join("run");
        std::fs::create_dir_all(&workspace).expect("an Azurite workspace folder");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            // `sh` waits on Azurite (and ends with it) while a reader holds our pipe: when this
            // process ends the pipe closes, `read` returns and Azurite is killed. (An
            // asynchronous list reads /dev/null unless redirected, hence fd 3.)
            let script = r#"exec 3<&0; bin="$1"; shift; "$bin" "$@" & pid=$!; (read -r _ <&3; kill "$pid" 2>/dev/null) & wait "$pid""#;
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg("sh")
                .arg(bin)
                .args([host_flag, "127.0.0.1", port_flag])
                .arg(port.to_string())
                .args([
                    "--inMemoryPersistence",
                    "--skipApiVersionCheck",
                    "--disableProductStyleUrl",
                    "--disableTelemetry",
                    "--silent",
                ])
                .current_dir(&workspace)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sh runs azurite");
            let stdout = child.stdout.take().expect("piped stdout");
            let stderr = child.stderr.take().expect("piped stderr");
            let (lines, seen) = mpsc::channel();
            for stream in [
                Box::new(stdout) as Box<dyn std::io::Read + Send>,
                Box::new(stderr),
            ] {
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        if lines.send(line).is_err() {
                            break;
                        }
                    }
                });
            }
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut output = String::new();
            let ready = loop {
                match seen.recv_timeout(Duration::from_millis(100)) {
                    Ok(line) => {
                        output.push_str(&line);
                        output.push('\n');
                        if line.contains(ready_words) {
                            break answers(addr);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break false,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                    break false;
                }
            };
            if ready {
                return Azurite { child, addr };
            }
            let _ = child.kill();
            let _ = child.wait();
            last = output;
        }
        panic!(
            "{} did not start on a free port after 5 tries; its last output:\n{last}",
            bin.display()
        );
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        // Closing stdin makes the `sh` wrapper kill Azurite; kill the wrapper too.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `<target>/tmp/azurite`.
fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("azurite")
}

/// The folder of Azurite's scripts (`azurite-table`, `azurite-blob`), installed with npm when
/// missing.
fn install() -> PathBuf {
    let dir = dir();
    let scripts = dir.join("node_modules/.bin");
    let bin = scripts.join("azurite-table");
    if bin.exists() {
        return scripts;
    }
    std::fs::create_dir_all(&dir).expect("the Azurite install folder");
    let started = Instant::now();
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg("azurite@3")
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "the ledger tests need Azurite, installed with npm, and `npm` could not be run \
                 ({error}): install Node.js and npm (e.g. `apt-get install nodejs npm`)"
            )
        });
    assert!(
        output.status.success() && bin.exists(),
        "`npm install azurite@3` into {} failed ({}):\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "azurite: installed with npm in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    scripts
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Whether something accepts connections at `addr` within a few seconds.
fn answers(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
