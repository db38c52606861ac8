//! Ctrl-C during preflight, through the binary: `release run` gets SIGINT while the GitHub
//! write probe is in flight, held at a [`Gate`] of the GitHub test server so that the signal
//! lands exactly there (no sleeps, no timing).
//!
//! - the first Ctrl-C: the probe still deletes its throwaway draft, nothing is built, exit 130
//!   and the output says the run was interrupted;
//! - Ctrl-C before the probe's write: the probe writes nothing at all;
//! - a second Ctrl-C: the process ends at once and says what it may leave behind; here the
//!   probe's draft (documented in `docs/reliability.md`).

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use release_tests::Project;
use release_tests::github_server::{Fault, FaultAction, Gate, GithubServer, Level, Route, TokenSpec, Visibility};

const REPO: &str = "acme/hello";
const TOKEN: &str = "ghs_interrupt0123456789";
/// How long a test waits for the binary to reach a point; only a bound on a broken run.
const LIMIT: Duration = Duration::from_secs(60);

/// A build that leaves a mark when it runs. The stall timeout is long so that a held answer
/// is not taken for a stall while the test signals.
fn project() -> Project {
    let project = Project::new();
    project
        .config(&format!(
            "[project]\nversion = \"1.2.3\"\n\n[[build]]\nname = \"app\"\ncommand = [\"touch\", \"built\"]\n\n\
             [github]\nrepository = \"{REPO}\"\n\n\
             [network]\nattempts = 3\nbackoff-ms = 20\nstall-timeout-secs = 60\ngithub-mutation-interval-ms = 0\n"
        ))
        .file("src/app.txt", "the app\n");
    project
}

fn server() -> GithubServer {
    let server = GithubServer::start();
    server
        .add_repository(REPO, Visibility::Public)
        .add_token(TOKEN, TokenSpec::integration().repository(REPO).permission("contents", Level::Write));
    server
}

/// `release run` started in the background, its stderr read line by line on a thread.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(project: &Project, server: &GithubServer) -> Running {
        let mut child = project
            .release(["run", "--verbose"])
            .env("GITHUB_API_URL", server.api_url())
            .env("GH_TOKEN", TOKEN)
            .spawn();
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// SIGINT, as Ctrl-C in a terminal sends it.
    fn interrupt(&self) {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("the tests send signals with `kill` (procps)");
        assert!(status.success(), "kill -INT failed");
    }

    /// Reads stderr until a line contains `needle`.
    #[track_caller]
    fn wait_for(&mut self, needle: &str) {
        while !self.seen.iter().any(|l| l.contains(needle)) {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("release never said {needle:?}; it said:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for the exit; returns the code and everything printed on stderr. A run that does
    /// not end within the limit is killed and the test fails (instead of hanging).
    fn finish(mut self) -> (i32, String) {
        let deadline = std::time::Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for release") {
                break status;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("release did not exit; it said:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.seen.extend(self.lines.iter());
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }
}

#[test]
fn ctrl_c_while_the_probe_creates_its_draft_still_deletes_it_and_builds_nothing() {
    let server = server();
    let gate = Gate::new();
    // The draft is created, its answer held: the probe is in flight with a draft on the server.
    server.inject(Fault::new(Route::CreateRelease, 1, FaultAction::HoldAnswer(gate.clone())));
    let project = project();
    let mut running = Running::start(&project, &server);
    assert!(gate.wait_held(LIMIT), "the probe never created its draft");
    assert_eq!(server.releases(REPO).len(), 1, "the probe's draft exists while its answer is held");

    running.interrupt();
    running.wait_for("interrupting: letting the running step clean up");
    gate.open();
    let (code, stderr) = running.finish();

    assert_eq!(code, 130, "exit 130 for an interrupted run\n{stderr}");
    assert!(stderr.contains("interrupted: nothing further ran"), "{stderr}");
    assert!(server.releases(REPO).is_empty(), "the probe's draft was deleted: {:#?}", server.releases(REPO));
    let requests = server.requests();
    let deletes: Vec<_> = requests.iter().filter(|r| r.route == Route::DeleteRelease).collect();
    assert_eq!(deletes.len(), 1, "one delete, of the probe's draft");
    assert_eq!(deletes[0].status, 204);
    assert!(server.tags(REPO).is_empty());
    assert!(!project.exists("built"), "no build step ran");
    assert!(!project.exists("dist"), "nothing was collected");
    assert!(!stderr.contains("build:app"), "the build was not started: {stderr}");
}

#[test]
fn ctrl_c_before_the_probe_writes_creates_nothing() {
    let server = server();
    let gate = Gate::new();
    // The probe lists the tag's releases before it writes: hold that answer (every listing: the
    // tag-rules check lists them too, concurrently, and may come first).
    server.inject(Fault::new(Route::ListReleases, 1, FaultAction::HoldAnswer(gate.clone())).always());
    let project = project();
    let mut running = Running::start(&project, &server);
    assert!(gate.wait_held(LIMIT), "the probe never listed the releases");

    running.interrupt();
    running.wait_for("interrupting: letting the running step clean up");
    gate.open();
    let (code, stderr) = running.finish();

    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("stopped before it wrote anything"), "{stderr}");
    let creates = server.requests().iter().filter(|r| r.route == Route::CreateRelease).count();
    assert_eq!(creates, 0, "an interrupted probe writes nothing");
    assert!(server.releases(REPO).is_empty());
    assert!(!project.exists("built"), "no build step ran");
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_says_what_it_may_leave() {
    let server = server();
    let gate = Gate::new();
    server.inject(Fault::new(Route::CreateRelease, 1, FaultAction::HoldAnswer(gate.clone())));
    let project = project();
    let mut running = Running::start(&project, &server);
    assert!(gate.wait_held(LIMIT), "the probe never created its draft");

    running.interrupt();
    running.wait_for("interrupting: letting the running step clean up");
    running.interrupt();
    let (code, stderr) = running.finish();
    // Only now does the held answer go out, to a client that is gone.
    gate.open();

    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted again: exiting at once"), "{stderr}");
    assert!(stderr.contains("a preflight probe's throwaway draft release"), "{stderr}");
    // What it left: the probe's draft, invisible (a draft, no git tag), under its own name.
    let releases = server.releases(REPO);
    assert_eq!(releases.len(), 1, "{releases:#?}");
    assert!(releases[0].draft);
    assert_eq!(releases[0].name.as_deref(), Some("release preflight probe (safe to delete)"));
    assert!(server.tags(REPO).is_empty(), "a draft makes no git tag");
    assert!(!project.exists("built"), "no build step ran");
}
