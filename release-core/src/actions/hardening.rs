//! What `release audit` says about how a release job is written, beyond its permissions:
//! the problems zizmor finds offline that matter most for a job holding a write token, and
//! the one neither zizmor nor actionlint sees (a tool compiled from a moving branch). Each is a
//! warning at the line to change; the generated workflow has none of them by construction.

use camino::Utf8Path;

use super::audit::{Finding, Severity};
use super::pins;
use super::yaml::Positioned;

/// Actions whose only purpose is a cache, and the `with:` inputs that turn one on in a setup
/// action: a cache restored into a job that publishes can carry what another workflow run
/// (any with a `GITHUB_TOKEN`) put there.
const CACHE_ACTIONS: [&str; 3] = ["actions/cache", "Swatinem/rust-cache", "mozilla-actions/sccache-action"];
const CACHE_INPUTS: [&str; 2] = ["cache", "cache-dependency-path"];

/// The hardening findings for one job that runs the release.
pub(crate) fn job_findings(file: &Utf8Path, job_id: &str, job: &Positioned) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut warn = |line: usize, message: String, help: String| {
        findings.push(Finding {
            severity: Severity::Warning,
            file: file.to_owned(),
            line,
            job: Some(job_id.to_owned()),
            message,
            help,
        });
    };
    let Some((_, steps)) = job.get("steps") else { return Vec::new() };
    for step in steps.items() {
        if let Some((key, uses)) = step.get("uses") {
            let target = uses.as_str().unwrap_or_default();
            let (action, reference) = target.split_once('@').unwrap_or((target, ""));
            let local = target.starts_with("./") || target.starts_with("docker://");
            if !local && !is_commit(reference) {
                let pin = pins::ALL.iter().find(|p| p.action.eq_ignore_ascii_case(action));
                let example = pin.map_or_else(|| format!("{action}@<commit SHA> # <version>"), |p| p.uses());
                warn(
                    key.line,
                    format!(
                        "job `{job_id}` uses `{target}`, which is not pinned to a commit: whoever moves the tag changes what runs with this job's token"
                    ),
                    format!(
                        "pin it to the commit its tag points at, with the version in a comment: `uses: {example}` (Dependabot and Renovate keep such pins current)"
                    ),
                );
            }
            let with = step.get("with").map(|(_, w)| w);
            if action.eq_ignore_ascii_case("actions/checkout")
                && with.and_then(|w| w.get("persist-credentials")).and_then(|(_, v)| v.as_str()) != Some("false")
            {
                warn(
                    key.line,
                    format!("job `{job_id}` checks out with the token persisted on disk, where later steps and artifacts can pick it up"),
                    "add `with: { persist-credentials: false }` to the checkout (the release tool needs no git credentials)".into(),
                );
            }
            let caches = CACHE_ACTIONS.iter().any(|c| action.eq_ignore_ascii_case(c))
                || (action.contains("/setup-")
                    && with.is_some_and(|w| {
                        w.entries().iter().any(|(k, v)| {
                            CACHE_INPUTS.contains(&k.text.as_str()) && !matches!(v.as_str(), Some("false" | ""))
                        })
                    }));
            if caches {
                warn(
                    key.line,
                    format!("job `{job_id}` restores a cache, and it publishes: a poisoned cache would be built into the release"),
                    "remove the cache from the jobs that build what is published, or make it write-only (`lookup-only: true`)".into(),
                );
            }
        }
        if let Some((key, run)) = step.get("run") {
            let script = run.as_str().unwrap_or_default();
            if script.contains("${{") {
                warn(
                    key.line,
                    format!("job `{job_id}` expands `${{{{ … }}}}` inside a script: the value becomes shell code before the shell runs (template injection)"),
                    "pass the value through the step's `env:` (`env: { VALUE: ${{ … }} }`) and use `\"$VALUE\"` in the script".into(),
                );
            }
            for line in script.lines().filter(|l| l.contains("cargo install") && l.contains("--git")) {
                if !(line.contains("--rev") || line.contains("--tag")) {
                    warn(
                        key.line,
                        format!("job `{job_id}` compiles a tool from a branch (`{}`) and runs it with this job's token: what runs changes with every push to that branch, and the compile takes minutes", line.trim()),
                        "install an exact, verified release instead: `release init --workflow` writes a step that downloads it and checks its attestation and digest".into(),
                    );
                }
            }
        }
    }
    findings
}

fn is_commit(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(workflow: &str) -> Vec<(usize, String)> {
        let doc = super::super::yaml::parse(workflow).unwrap();
        let (_, jobs) = doc.get("jobs").unwrap();
        let (key, job) = &jobs.entries()[0];
        job_findings(Utf8Path::new("release.yml"), &key.text, job).into_iter().map(|f| (f.line, f.message)).collect()
    }

    #[test]
    fn an_old_style_release_job_gets_a_finding_per_problem_at_its_line() {
        let found = findings(
            "jobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: Swatinem/rust-cache@v2\n      - run: cargo install --locked --git https://github.com/o/r release-cli\n      - run: echo \"${{ github.event.head_commit.message }}\"\n      - run: release run\n",
        );
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5, 5, 6, 6, 7, 8], "{found:#?}");
        assert!(found[0].1.contains("`actions/checkout@v4`, which is not pinned"));
        assert!(found[1].1.contains("token persisted on disk"));
        assert!(found[3].1.contains("restores a cache"));
        assert!(found[4].1.contains("compiles a tool from a branch"));
        assert!(found[5].1.contains("template injection"));
    }

    #[test]
    fn a_hardened_job_has_none() {
        let found = findings(&format!(
            "jobs:\n  release:\n    steps:\n      - uses: {}\n        with:\n          persist-credentials: false\n      - uses: ./local\n      - run: release run\n        env:\n          X: ${{{{ github.token }}}}\n",
            pins::CHECKOUT.uses().split(" #").next().unwrap()
        ));
        assert!(found.is_empty(), "{found:?}");
    }
}
