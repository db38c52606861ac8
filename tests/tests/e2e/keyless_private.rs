//! Keyless signing against an instance like GitHub's for private repositories: Fulcio
//! without a CT log and an RFC 3161 timestamp authority, no Rekor (protocols-sigstore.md
//! §3.3, §4). Every bundle carries a timestamp instead of a log entry; `openssl` checks each
//! part independently (the timestamp against the TSA chain, the certificate chain at the
//! timestamp's time, the signature over the file or the DSSE PAE). sigstore-python 4.5.1
//! cannot verify such a bundle at all: it parses a bundle only with exactly one log entry
//! (`sigstore/models.py`), its `Verifier` refuses a trusted root without transparency logs
//! and it always checks an SCT (`sigstore/verify/verifier.py`); the test pins that refusal.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use camino::Utf8Path;
use release_tests::sigstore::{self, SigstoreServers, Workflow, der};
use serde_json::Value;
use sha2::Digest as _;

/// The keyless project of `keyless.rs`, with provenance.
fn keyless_project(servers: &SigstoreServers) -> release_tests::Project {
    let project = crate::keyless::keyless_project(servers);
    let config = project.read("release.toml");
    project.config(&format!("{config}provenance = true\n"));
    project
}

fn in_actions(command: release_tests::ReleaseCommand, servers: &SigstoreServers) -> release_tests::ReleaseCommand {
    crate::keyless::in_actions(command, servers).env("GITHUB_SERVER_URL", "https://github.com")
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("the tests check timestamps and signatures with the machine's `openssl`: install it");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn write_pem(path: &Utf8Path, certs: &[&[u8]]) {
    std::fs::write(path, certs.iter().map(|c| der::pem("CERTIFICATE", c)).collect::<String>()).unwrap();
}

/// Checks one bundle with openssl alone: the RFC 3161 timestamp over the signature against
/// the TSA chain of the trusted root, the leaf certificate against the Fulcio chain at the
/// timestamp's time, and the signature over `signed` (the file, or the DSSE PAE). Returns
/// false at the first failure, with what failed.
fn openssl_checks(servers: &SigstoreServers, bundle: &Value, signed: &[u8], work: &Utf8Path) -> Result<(), String> {
    std::fs::create_dir_all(work).unwrap();
    let b64 = |pointer: &str| STANDARD.decode(bundle.pointer(pointer).and_then(Value::as_str).unwrap()).unwrap();
    let signature = if bundle.get("dsseEnvelope").is_some() {
        b64("/dsseEnvelope/signatures/0/sig")
    } else {
        b64("/messageSignature/signature")
    };
    let tsr = work.join("ts.tsr");
    std::fs::write(&tsr, b64("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp"))
        .unwrap();
    let tsa = servers.tsa_chain();
    let (tsa_root, tsa_untrusted) = (work.join("tsa-root.pem"), work.join("tsa-chain.pem"));
    write_pem(&tsa_root, &[&tsa[2]]);
    write_pem(&tsa_untrusted, &[&tsa[0], &tsa[1]]);
    let imprint = hex::encode(sha2::Sha256::digest(&signature));
    let (ok, out) = openssl(&[
        "ts",
        "-verify",
        "-in",
        tsr.as_str(),
        "-digest",
        &imprint,
        "-CAfile",
        tsa_root.as_str(),
        "-untrusted",
        tsa_untrusted.as_str(),
    ]);
    if !(ok && out.contains("Verification: OK")) {
        return Err(format!("openssl ts -verify:\n{out}"));
    }
    // The time the TSA vouches for, as Unix seconds (openssl prints e.g. "Nov 30 22:54:01 2026 GMT").
    let (_, text) = openssl(&["ts", "-reply", "-in", tsr.as_str(), "-text"]);
    let stamp = text.lines().find_map(|l| l.strip_prefix("Time stamp: ")).ok_or(format!("no time in\n{text}"))?;
    let date = std::process::Command::new("date").args(["-u", "-d", stamp.trim(), "+%s"]).output().unwrap();
    let at = String::from_utf8_lossy(&date.stdout).trim().to_owned();

    let leaf = b64("/verificationMaterial/certificate/rawBytes");
    let fulcio = servers.fulcio_chain();
    let (leaf_pem, ca_root, ca_untrusted) = (work.join("leaf.pem"), work.join("ca-root.pem"), work.join("ca-int.pem"));
    write_pem(&leaf_pem, &[&leaf]);
    write_pem(&ca_root, &[&fulcio[1]]);
    write_pem(&ca_untrusted, &[&fulcio[0]]);
    let (ok, out) = openssl(&[
        "verify",
        "-attime",
        &at,
        "-purpose",
        "any",
        "-CAfile",
        ca_root.as_str(),
        "-untrusted",
        ca_untrusted.as_str(),
        leaf_pem.as_str(),
    ]);
    if !ok {
        return Err(format!("openssl verify of the certificate at {at}:\n{out}"));
    }
    let (public, sig, data) = (work.join("leaf.pub"), work.join("sig.der"), work.join("signed"));
    let (ok, out) = openssl(&["x509", "-in", leaf_pem.as_str(), "-pubkey", "-noout", "-out", public.as_str()]);
    assert!(ok, "{out}");
    std::fs::write(&sig, &signature).unwrap();
    std::fs::write(&data, signed).unwrap();
    let (ok, out) =
        openssl(&["dgst", "-sha256", "-verify", public.as_str(), "-signature", sig.as_str(), data.as_str()]);
    if !(ok && out.contains("Verified OK")) {
        return Err(format!("openssl dgst -verify:\n{out}"));
    }
    Ok(())
}

/// DSSE's pre-authentication encoding, what the envelope's signature covers.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A whole keyless snapshot run on the GitHub-like private instance: preflight reaches the
/// TSA (no Rekor), one certificate without an SCT, every signature (both files and the
/// provenance) timestamped and none logged; the gate verifies every bundle; openssl checks
/// each independently; `release verify` refuses a tampered file, another identity, a bundle
/// stripped of its timestamp and a trusted root that lists a CT log (the SCT is then required).
#[test]
fn a_keyless_run_on_a_private_instance_timestamps_every_signature() {
    let servers = SigstoreServers::start_github_private(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let tsa = format!("{}/api/v1/timestamp", servers.tsa_url);
    in_actions(project.release(["run", "--snapshot"]), &servers)
        .run()
        .success()
        .stdout_has(&format!("the timestamp authority {tsa} answer"))
        .stdout_has(&format!("each signature timestamped by the timestamp authority {tsa}"))
        .stdout_has("2 bundle(s) verified")
        .stdout_has("provenance verified: 2 subject(s)");

    assert_eq!(servers.fulcio_requests().len(), 1, "one certificate for the run");
    assert!(servers.rekor_requests().is_empty(), "nothing goes to a Rekor the instance does not have");
    let timestamps = servers.timestamps();
    assert_eq!(timestamps.len(), 3, "app, SHA256SUMS and the provenance are timestamped");

    let work = project.join("openssl");
    let dist = project.join("dist");
    for name in ["app", "SHA256SUMS"] {
        let bundle: Value = serde_json::from_str(&project.read(&format!("dist/{name}.sigstore.json"))).unwrap();
        let material = &bundle["verificationMaterial"];
        assert!(material["tlogEntries"].as_array().is_none_or(Vec::is_empty), "{name}: no log entry: {bundle}");
        assert_eq!(material["timestampVerificationData"]["rfc3161Timestamps"].as_array().map(Vec::len), Some(1));
        let leaf = STANDARD.decode(material["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
        const SCT_OID: [u8; 12] = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];
        assert!(
            !leaf.windows(SCT_OID.len()).any(|w| w == SCT_OID),
            "{name}: a certificate without a CT log has no SCT"
        );
        let signature = STANDARD.decode(bundle["messageSignature"]["signature"].as_str().unwrap()).unwrap();
        assert!(
            timestamps.contains(&sha2::Sha256::digest(&signature).to_vec()),
            "{name}: the imprint is the signature's"
        );
        let file = std::fs::read(dist.join(name)).unwrap();
        openssl_checks(&servers, &bundle, &file, &work.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let provenance: Value = serde_json::from_str(project.read("dist/provenance.intoto.jsonl").trim()).unwrap();
    let envelope = &provenance["dsseEnvelope"];
    let payload = STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    openssl_checks(
        &servers,
        &provenance,
        &pae(envelope["payloadType"].as_str().unwrap(), &payload),
        &work.join("provenance"),
    )
    .unwrap_or_else(|e| panic!("provenance: {e}"));

    // sigstore-python 4.5.1 cannot verify a bundle without a log entry, and says why: its
    // verifier refuses a trusted root without logs, and given one with a log (another
    // instance's), it refuses the bundle itself.
    let trust = servers.write_trust_files(&project.join("trust-check"));
    let san = servers.workflow().san();
    let python = |trust: &sigstore::TrustFiles| {
        let (ok, out) =
            sigstore::python_verify_identity(trust, &project.join("dist/app.sigstore.json"), &san, &dist.join("app"));
        assert!(!ok, "sigstore-python 4.5.1 now verifies a TSA-only bundle: check with it here\n{out}");
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let said = python(&trust);
    assert!(said.contains("trusted root contains no transparency log"), "{said}");
    let public = SigstoreServers::start(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let mut config = servers.trust_config();
    config["trustedRoot"]["tlogs"] = public.trusted_root()["tlogs"].clone();
    let with_log = sigstore::TrustFiles { trust_config: project.join("trust-check/with_log.json"), ..trust.clone() };
    std::fs::write(&with_log.trust_config, config.to_string()).unwrap();
    let said = python(&with_log);
    assert!(said.contains("expected exactly one log entry in bundle"), "{said}");

    // `release verify` (the gate's own verification) for users.
    let root = trust.trusted_root.as_str();
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", root, "dist/app", "dist/SHA256SUMS"])
        .run()
        .success()
        .stdout_has(&format!("ok      dist/app (signed by {san})"));
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", root, "--bundle", "dist/provenance.intoto.jsonl"])
        .arg("dist/app")
        .run()
        .success();
    let other = "https://github.com/acme/hello/.github/workflows/other.yml@refs/tags/v1.2.3";
    project
        .release(["verify", "--certificate-identity", other, "--trusted-root", root, "dist/app"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app")
        .stdout_has(other);

    // A trusted root that lists a CT log requires the SCT this certificate does not have.
    let mut with_ct = servers.trusted_root();
    with_ct["ctlogs"] = public.trusted_root()["ctlogs"].clone();
    let with_ct_path = project.join("trust-check/with_ct.json");
    std::fs::write(&with_ct_path, with_ct.to_string()).unwrap();
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", with_ct_path.as_str(), "dist/app"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app")
        .stdout_has("certificate is missing SCT extension");

    // Without its timestamp a bundle has no signing time: refused.
    let mut stripped: Value = serde_json::from_str(&project.read("dist/app.sigstore.json")).unwrap();
    stripped["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    let stripped_path = project.join("dist/app.stripped.json");
    std::fs::write(&stripped_path, stripped.to_string()).unwrap();
    project
        .release([
            "verify",
            "--repo",
            "acme/hello",
            "--trusted-root",
            root,
            "--bundle",
            stripped_path.as_str(),
            "dist/app",
        ])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app")
        .stdout_has("bundle must have at least one tlog entry or timestamp verification data");

    // A tampered file fails ours and openssl's checks.
    std::fs::write(dist.join("app"), "the app, tampered\n").unwrap();
    project
        .release(["verify", "--repo", "acme/hello", "--trusted-root", root, "dist/app"])
        .run()
        .code(1)
        .stdout_has("FAILED  dist/app")
        .stdout_has("does not match artifact");
    let bundle: Value = serde_json::from_str(&project.read("dist/app.sigstore.json")).unwrap();
    assert!(openssl_checks(&servers, &bundle, b"the app, tampered\n", &work.join("tampered")).is_err());
}

/// A TSA outage is ridden out by the network policy; a TSA whose answers do not verify
/// against the trusted root stops signing with the reason, before anything is written.
#[test]
fn tsa_outages_are_retried_and_a_preflight_names_an_unlisted_tsa() {
    let servers = SigstoreServers::start_github_private(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    let config = project.read("release.toml");
    project.config(&format!("{config}\n[network]\nattempts = 4\nbackoff-ms = 1\n"));
    servers.fail(sigstore::Service::Tsa, 503, 2);
    let run = in_actions(project.release(["run", "--snapshot"]), &servers).run();
    run.success().stdout_has("2 bundle(s) verified");
    crate::github::said(&run, "retrying timestamping the signature after 503 Service Unavailable (attempt 2/4)");
    assert_eq!(servers.timestamps().len(), 3, "each signature timestamped once");

    // Trust files of another instance: the TSA's certificate is not the trusted root's.
    let other = SigstoreServers::start_github_private(Workflow::new("acme/hello", "refs/tags/v1.2.3"));
    let project = keyless_project(&servers);
    std::fs::copy(
        other.write_trust_files(&project.join("other")).trusted_root,
        project.join("sigstore/trusted_root.json"),
    )
    .unwrap();
    in_actions(project.release(["run", "--snapshot"]), &servers)
        .run()
        .code(3)
        .stderr_has("preflight:id-token")
        .stderr_has("is not the leaf of any of the trusted root's `timestampAuthorities`");
}
