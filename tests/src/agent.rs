//! Running the real `nursery-agent` binary from integration tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `nursery-agent` binary of the same build as this test.
///
/// A test package cannot use `CARGO_BIN_EXE_*` of another package, so the path is derived
/// from the test executable itself, which lives in `<target>/<profile>/deps/`; this also
/// follows a custom `CARGO_TARGET_DIR`.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps/");
    let bin = profile_dir.join(format!("nursery-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build -p nursery-agent` first (same profile and target dir \
         as the tests; scripts/test does)",
        bin.display()
    );
    bin
}

/// Writes a copy of `config/demo.toml` into `dir` with its storage in `dir/state`, the
/// uplink off, and the simulation at `speed`. Returns the file's path.
pub fn demo_config(dir: &Path, speed: f64) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("config/demo.toml")).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["storage"]["dir"] = toml_edit::value(dir.join("state").display().to_string());
    doc["mqtt"]["enabled"] = toml_edit::value(false);
    doc["dashboard"]["listen"] = toml_edit::value("127.0.0.1:0");
    doc["simulation"]["speed"] = toml_edit::value(speed);
    let path = dir.join("agent.toml");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// [`demo_config`] with the simulation off, so that only `--events` feeds the agent, and
/// these `[rules]` set (`("roll_call_within", "3s")`, say). Returns the file's path.
pub fn quiet_demo_config(dir: &Path, rules: &[(&str, &str)]) -> PathBuf {
    let config = demo_config(dir, 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    for (key, value) in rules {
        doc["rules"][*key] = toml_edit::value(*value);
    }
    std::fs::write(&config, doc.to_string()).unwrap();
    config
}

/// libfaketime's preload library, installed by `scripts/test` (Debian package `faketime`).
pub fn libfaketime() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("libfaketime is installed (Debian package `faketime`; scripts/test installs it)")
}

/// A running agent whose stdout lines are collected as they come.
pub struct Agent {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Agent {
    pub fn start(config: &Path, extra: &[&str]) -> Agent {
        Agent::start_with_env(config, extra, &[])
    }

    /// As [`Agent::start`], with these environment variables set (`LD_PRELOAD` of
    /// libfaketime, say).
    pub fn start_with_env(config: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Agent {
        let mut child = Command::new(binary())
            .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nursery-agent");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Agent {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `needle`; panics with what was seen after `limit`.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line containing {needle:?} within {limit:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Waits (up to `limit`) for the line announcing the staff page; its port.
    pub fn page_port(&mut self, limit: Duration) -> u16 {
        let line = self.wait_for_line("staff page: http://", limit);
        line.trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status (waits at most `limit`).
    pub fn terminate(mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("agent did not stop within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with `args`; returns (status, stdout, stderr).
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(binary()).args(args).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `nursery-agent status`, parsed.
pub fn status(config: &Path) -> serde_json::Value {
    let (st, out, err) = run(&["status", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "status failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status output {out:?}: {e}"))
}

/// Polls `status` until its clock reads at least local `hh_mm` ("HH:MM").
pub fn wait_for_clock(config: &Path, hh_mm: &str, limit: Duration) -> serde_json::Value {
    let end = Instant::now() + limit;
    loop {
        if let Ok((st, out, _)) =
            std::panic::catch_unwind(|| run(&["status", "--config", config.to_str().unwrap()]))
        {
            if st.success() {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                if let Some(c) = v["clock"].as_str() {
                    if &c[11..16] >= hh_mm {
                        return v;
                    }
                }
            }
        }
        assert!(
            Instant::now() < end,
            "the agent's clock did not reach {hh_mm} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
