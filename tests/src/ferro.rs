//! The real registry server for the cargo ↔ registry round trip: `ferro-cargo-registry-server`
//! 1.0.0 (Apache-2.0; installed by `.ci/run` with `cargo install --locked`). See
//! `shared/protocols-crates.md` B6: a sparse index at the root, any token accepted, `409` for a
//! duplicate version. Started on a loopback port with a data directory of its own; a missing
//! binary fails the test (it is a test dependency, not an optional one).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct Ferro {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Ferro {
    /// Starts the server on a free loopback port and waits until `config.json` answers.
    pub fn start() -> Ferro {
        let data = tempfile::tempdir().expect("a data directory");
        // The server refuses port 0 without an advertised API URL: take a free port first.
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new("ferro-cargo-registry-server")
            .env("FERRO_CARGO_REGISTRY_LISTEN", &listen)
            .env("FERRO_CARGO_REGISTRY_DATA", data.path())
            .env("FERRO_CARGO_REGISTRY_API", format!("http://{listen}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ferro-cargo-registry-server runs (.ci/run installs it: cargo install --locked ferro-cargo-registry-server@1.0.0)");
        let ferro = Ferro { child, port, _data: data };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return ferro;
            }
            assert!(Instant::now() < deadline, "ferro-cargo-registry-server did not start on {listen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The sparse index URL as cargo writes it.
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Ferro {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
