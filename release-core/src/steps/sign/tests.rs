//! The signing steps of every stage together: key check, signing, the verification gate.

use camino::{Utf8Path, Utf8PathBuf};

use crate::checksum::sha256_hex;
use crate::config::Config;
use crate::env::Environment;
use crate::event::{Event, Recorder};
use crate::plan::{Mode, Stage};
use crate::signing::Signer;
use crate::signing::key::CosignKeyPair;
use crate::signing::settings::SigningSettings;
use crate::signing::test_support::{FIXTURE_PASSWORD, fixture, openssl_verifies, temp_dir};
use crate::step::{Artifact, ArtifactKind, Release, RunState, Step, StepContext, StepResult};
use crate::steps::handoffs::signer_handoff as signer;
use crate::steps::package::checksums::PackageChecksums;
use crate::steps::preflight::signing_key::PreflightSigningKey;
use crate::steps::sign::artifacts::SignArtifacts;
use crate::steps::verify::signatures::VerifySignatures;

fn settings(key: Utf8PathBuf, public_key: Option<Utf8PathBuf>, snapshot: bool, ephemeral: bool) -> SigningSettings {
    SigningSettings {
        key,
        public_key,
        password_env: "COSIGN_PASSWORD".into(),
        snapshot,
        ephemeral_in_snapshot: ephemeral,
        always_ephemeral: false,
    }
}

fn fixture_settings() -> SigningSettings {
    settings(fixture("sigstore.key"), Some(fixture("sigstore.pub")), false, false)
}

fn state(dir: &Utf8Path, env: Environment) -> RunState {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let release = Release { version: semver::Version::new(1, 2, 3), tag: "v1.2.3".into(), root: dir.to_owned(), dist };
    RunState::new(release, env, crate::cancel::Cancellation::new())
}

fn with_password() -> Environment {
    Environment::empty().with("COSIGN_PASSWORD", FIXTURE_PASSWORD)
}

/// A run whose dist directory is [`built`], with the fixture key's password set.
struct BuiltRun {
    _dir: tempfile::TempDir,
    state: RunState,
    recorder: Recorder,
}

impl BuiltRun {
    fn new() -> Self {
        let (dir, tmp) = temp_dir();
        BuiltRun { state: state(&tmp, with_password()), _dir: dir, recorder: Recorder::default() }
    }

    /// The context of step `id` in this run, after the dist directory was built.
    async fn cx(&self, id: &'static str) -> StepContext<'_> {
        let cx = StepContext::detached(&self.state, id, &self.recorder);
        built(&cx).await;
        cx
    }
}

/// A dist directory with two binaries and their SHA256SUMS, as the build and package
/// stages leave it.
async fn built(cx: &StepContext<'_>) {
    for (name, bytes) in [("hello-linux.tar.gz", &b"linux bytes"[..]), ("hello-macos.tar.gz", &b"macos bytes"[..])] {
        let path = crate::dist::write_file(&cx.release().dist, name, bytes).unwrap();
        cx.add_artifact(Artifact {
            name: name.into(),
            path,
            kind: ArtifactKind::Binary,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        });
    }
    PackageChecksums.run(cx).await.unwrap();
}

fn names(cx: &StepContext<'_>, kind: ArtifactKind) -> Vec<String> {
    cx.artifacts().into_iter().filter(|a| a.kind == kind).map(|a| a.name).collect()
}

#[tokio::test]
async fn every_artifact_is_signed_and_an_independent_verifier_agrees() {
    let run = BuiltRun::new();
    let cx = run.cx("sign:artifacts").await;

    let summary = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap().unwrap();
    assert!(summary.starts_with("signed 3 file(s) with key "), "{summary}");
    assert_eq!(
        names(&cx, ArtifactKind::Signature),
        [
            "hello-linux.tar.gz.sig",
            "hello-linux.tar.gz.sigstore.json",
            "hello-macos.tar.gz.sig",
            "hello-macos.tar.gz.sigstore.json",
            "SHA256SUMS.sig",
            "SHA256SUMS.sigstore.json"
        ]
    );
    assert_eq!(names(&cx, ArtifactKind::PublicKey), ["cosign.pub"]);
    let dist = &cx.release().dist;
    // The shipped public key is the configured one, byte for byte as cosign writes it.
    assert_eq!(
        std::fs::read_to_string(dist.join("cosign.pub")).unwrap(),
        std::fs::read_to_string(fixture("sigstore.pub")).unwrap()
    );
    for name in ["hello-linux.tar.gz", "hello-macos.tar.gz", "SHA256SUMS"] {
        let sig = std::fs::read_to_string(dist.join(format!("{name}.sig"))).unwrap();
        assert!(openssl_verifies(&fixture("sigstore.pub"), &sig, &dist.join(name)), "{name}");
        // The bundle: v0.3, the key's hint, the same kind of signature (openssl checks it).
        let bundle: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dist.join(format!("{name}.sigstore.json"))).unwrap())
                .unwrap();
        assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
        let hint = crate::signing::bundle::public_key_hint(
            crate::signing::PublicKey::load(&fixture("sigstore.pub")).unwrap().spki_der(),
        );
        assert_eq!(bundle["verificationMaterial"]["publicKey"]["hint"], hint.as_str());
        let bundled = bundle["messageSignature"]["signature"].as_str().unwrap();
        assert!(openssl_verifies(&fixture("sigstore.pub"), bundled, &dist.join(name)), "{name} bundle");
    }
    assert!(cx.handed(&signer()).is_ok());

    let summary = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap().unwrap();
    assert!(summary.starts_with("3 signature(s) verified against cosign.pub"), "{summary}");
}

#[tokio::test]
async fn the_gate_stops_a_tampered_artifact() {
    let run = BuiltRun::new();
    let cx = run.cx("verify:signatures").await;
    SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();

    std::fs::write(cx.release().dist.join("hello-macos.tar.gz"), b"macos bytes, backdoored").unwrap();
    let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
    let message = err.message();
    assert!(message.starts_with("1 of 3 file(s) failed signature verification: hello-macos.tar.gz: "), "{message}");
    assert!(message.contains("the signature hello-macos.tar.gz.sig does not match"), "{message}");
    assert!(err.help().unwrap().starts_with("nothing was published"), "{err}");
}

#[tokio::test]
async fn the_gate_stops_a_bundle_of_another_file() {
    let run = BuiltRun::new();
    let cx = run.cx("verify:signatures").await;
    SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();
    let dist = cx.release().dist.clone();
    std::fs::copy(dist.join("hello-linux.tar.gz.sigstore.json"), dist.join("hello-macos.tar.gz.sigstore.json"))
        .unwrap();
    let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
    assert!(err.message().contains("the bundle hello-macos.tar.gz.sigstore.json is for other bytes"), "{err}");
}

#[tokio::test]
async fn the_gate_stops_a_missing_or_foreign_signature() {
    let run = BuiltRun::new();
    let cx = run.cx("verify:signatures").await;
    SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap();
    let dist = cx.release().dist.clone();

    std::fs::remove_file(dist.join("SHA256SUMS.sig")).unwrap();
    let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
    assert!(err.message().contains("SHA256SUMS: no signature"), "{err}");

    // A signature by another key over the same bytes.
    let other = CosignKeyPair::generate().unwrap();
    std::fs::write(
        dist.join("SHA256SUMS.sig"),
        other.sign_base64(&std::fs::read(dist.join("SHA256SUMS")).unwrap()).unwrap(),
    )
    .unwrap();
    let err = VerifySignatures::new(fixture_settings()).run(&cx).await.unwrap_err();
    assert!(err.message().contains("the signature SHA256SUMS.sig does not match"), "{err}");
}

#[tokio::test]
async fn signing_refuses_a_file_that_changed_after_it_was_checksummed() {
    let run = BuiltRun::new();
    let cx = run.cx("sign:artifacts").await;
    std::fs::write(cx.release().dist.join("hello-linux.tar.gz"), b"rewritten").unwrap();
    let err = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap_err();
    assert!(err.message().contains("hello-linux.tar.gz changed after it was collected"), "{err}");
}

#[tokio::test]
async fn an_interrupted_run_stops_signing_between_files() {
    let (_dir, tmp) = temp_dir();
    let dist = tmp.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let release = Release { version: semver::Version::new(1, 2, 3), tag: "v1.2.3".into(), root: tmp.clone(), dist };
    let cancel = crate::cancel::Cancellation::new();
    let state = RunState::new(release, with_password(), cancel.clone());
    let recorder = Recorder::default();
    let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
    built(&cx).await;
    cancel.cancel();
    let err = SignArtifacts::new(fixture_settings()).run(&cx).await.unwrap_err();
    assert!(err.message().contains("interrupted"), "{err}");
    assert!(names(&cx, ArtifactKind::Signature).is_empty());
}

async fn preflight(settings: SigningSettings, env: Environment) -> StepResult {
    let (_dir, tmp) = temp_dir();
    let state = state(&tmp, env);
    let recorder = Recorder::default();
    let cx = StepContext::detached(&state, "preflight:signing-key", &recorder);
    PreflightSigningKey::new(settings).run(&cx).await
}

#[tokio::test]
async fn preflight_proves_the_key_and_its_public_half() {
    let summary = preflight(fixture_settings(), with_password()).await.unwrap().unwrap();
    assert!(summary.contains("opens with the password from environment variable COSIGN_PASSWORD"), "{summary}");
    assert!(summary.ends_with(&format!("matches {}", fixture("sigstore.pub"))), "{summary}");
}

#[tokio::test]
async fn preflight_names_a_wrong_password_a_missing_variable_a_missing_key_and_a_mismatch() {
    let key = fixture("sigstore.key");
    let wrong = Environment::empty().with("COSIGN_PASSWORD", "guess");
    let err = preflight(fixture_settings(), wrong).await.unwrap_err();
    assert!(err.message().starts_with(&format!("wrong password for {key}")), "{err}");

    let err = preflight(fixture_settings(), Environment::empty()).await.unwrap_err();
    assert!(err.message().contains("the environment variable COSIGN_PASSWORD is empty or unset"), "{err}");
    assert!(err.help().unwrap().contains("secrets.COSIGN_PASSWORD"), "{err}");

    let (_dir, tmp) = temp_dir();
    let err = preflight(settings(tmp.join("cosign.key"), None, false, false), with_password()).await.unwrap_err();
    assert!(err.message().ends_with("cosign.key does not exist"), "{err}");
    assert!(err.help().unwrap().contains("release keygen"), "{err}");

    let mismatched = settings(key.clone(), Some(fixture("legacy.pub")), false, false);
    let err = preflight(mismatched, with_password()).await.unwrap_err();
    assert!(err.message().contains("does not match the public key"), "{err}");
}

#[tokio::test]
async fn a_snapshot_without_a_key_signs_with_a_labelled_ephemeral_pair() {
    let (_dir, tmp) = temp_dir();
    let absent = tmp.join("cosign.key");
    let snapshot = settings(absent.clone(), Some(fixture("sigstore.pub")), true, true);
    let summary = preflight(snapshot.clone(), Environment::empty()).await.unwrap().unwrap();
    assert!(summary.contains("EPHEMERAL"), "{summary}");

    let state = state(&tmp, Environment::empty());
    let recorder = Recorder::default();
    let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
    built(&cx).await;
    let summary = SignArtifacts::new(snapshot.clone()).run(&cx).await.unwrap().unwrap();
    assert!(summary.contains("EPHEMERAL"), "{summary}");
    assert!(summary.contains("public key cosign.ephemeral.pub"), "{summary}");
    assert_eq!(names(&cx, ArtifactKind::PublicKey), ["cosign.ephemeral.pub"]);
    assert!(
        recorder.events().iter().any(|e| matches!(e, Event::Warning { message, .. } if message.contains("EPHEMERAL"))),
        "a warning says the key is ephemeral"
    );
    let dist = &cx.release().dist;
    let sig = std::fs::read_to_string(dist.join("SHA256SUMS.sig")).unwrap();
    assert!(openssl_verifies(&dist.join("cosign.ephemeral.pub"), &sig, &dist.join("SHA256SUMS")));
    let summary = VerifySignatures::new(snapshot).run(&cx).await.unwrap().unwrap();
    assert!(summary.contains("cosign.ephemeral.pub (EPHEMERAL)"), "{summary}");
}

#[tokio::test]
async fn outside_snapshots_a_missing_key_is_never_replaced_by_an_ephemeral_one() {
    let (_dir, tmp) = temp_dir();
    let release_mode = settings(tmp.join("cosign.key"), None, false, true);
    let err = preflight(release_mode.clone(), with_password()).await.unwrap_err();
    assert!(err.message().ends_with("cosign.key does not exist"), "{err}");

    let state = state(&tmp, with_password());
    let recorder = Recorder::default();
    let cx = StepContext::detached(&state, "sign:artifacts", &recorder);
    built(&cx).await;
    let err = SignArtifacts::new(release_mode).run(&cx).await.unwrap_err();
    assert!(err.message().ends_with("cosign.key does not exist"), "{err}");
    assert!(names(&cx, ArtifactKind::Signature).is_empty());
}

#[tokio::test]
async fn a_wrong_password_stops_the_pipeline_in_preflight_before_the_build() {
    let (_dir, tmp) = temp_dir();
    std::fs::copy(fixture("sigstore.key"), tmp.join("cosign.key")).unwrap();
    let text = "[project]\nversion = \"1.2.3\"\n[[build]]\nname = \"touch\"\ncommand = [\"touch\", \"built\"]\n[signing]\nkey = \"cosign.key\"\n";
    let config = Config::parse(text, &tmp.join("release.toml")).unwrap();
    let env = Environment::from_process().with("COSIGN_PASSWORD", "guess");
    let pipeline = crate::assemble::pipeline(&config, &env, Mode::Snapshot, &Default::default()).unwrap();
    let stages: Vec<(String, Stage)> = pipeline.plan().steps.into_iter().map(|s| (s.id, s.stage)).collect();
    for (id, stage) in [
        ("preflight:signing-key", Stage::Preflight),
        ("sign:artifacts", Stage::Sign),
        ("verify:signatures", Stage::Verify),
    ] {
        assert!(stages.contains(&(id.to_owned(), stage)), "{stages:?}");
    }
    let failure = pipeline.run(&Recorder::default()).await.unwrap_err();
    assert_eq!(failure.kind.exit_code(), 3);
    assert!(failure.to_string().contains("wrong password for"), "{failure}");
    assert!(!tmp.join("built").exists(), "the build must not have run");
}

#[test]
fn a_keyless_snapshot_outside_actions_signs_with_a_throwaway_key_and_inside_signs_keyless() {
    let (_dir, tmp) = temp_dir();
    let text = "[project]\nversion = \"1.2.3\"\n[[build]]\nname = \"touch\"\ncommand = [\"touch\", \"built\"]\n[github]\nrepository = \"acme/hello\"\n[signing]\nmode = \"keyless\"\nprovenance = true\n";
    let config = Config::parse(text, &tmp.join("release.toml")).unwrap();
    let ids = |env: &Environment, mode: Mode| -> Vec<String> {
        let pipeline = crate::assemble::pipeline(&config, env, mode, &Default::default()).unwrap();
        pipeline.plan().steps.into_iter().map(|s| s.id).collect()
    };
    let local = ids(&Environment::empty(), Mode::Snapshot);
    assert!(
        local.iter().any(|id| id == "sign:artifacts") && local.iter().any(|id| id == "verify:signatures"),
        "{local:?}"
    );
    assert!(!local.iter().any(|id| id == "sign:keyless" || id == "preflight:id-token"), "{local:?}");
    let actions = Environment::empty().with("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.actions.invalid/");
    let in_actions = ids(&actions, Mode::Snapshot);
    assert!(in_actions.iter().any(|id| id == "sign:keyless"), "{in_actions:?}");
    // A real release never stands in.
    let release = ids(&Environment::empty(), Mode::Release);
    assert!(
        release.iter().any(|id| id == "sign:keyless") && !release.iter().any(|id| id == "sign:artifacts"),
        "{release:?}"
    );
}
