use super::*;

#[test]
fn signature_names() {
    assert_eq!(signature_name("hello.tar.gz"), "hello.tar.gz.sig");
    assert_eq!(signature_path(Utf8Path::new("dist/SHA256SUMS")), "dist/SHA256SUMS.sig");
}

#[test]
fn signature_text_round_trips_and_tolerates_a_newline() {
    let sig = BlobSignature::from_der(vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]);
    let text = sig.to_base64();
    assert!(!text.ends_with('\n'));
    assert_eq!(BlobSignature::from_base64(&format!("{text}\n")).unwrap(), sig);
    assert!(BlobSignature::from_base64("not base64!").is_err());
}

#[test]
fn pem_blocks() {
    let pem = pem_encode("PUBLIC KEY", &[7u8; 100]);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.lines().all(|line| line.len() <= 64));
    assert_eq!(pem_label(&pem), Some("PUBLIC KEY"));
    assert_eq!(pem_contents(&pem, "PUBLIC KEY"), Some(vec![7u8; 100]));
    assert_eq!(pem_contents(&pem, "PRIVATE KEY"), None);
    assert_eq!(pem_label("hello"), None);
}

mod keys {
    use super::test_support::{FIXTURE_PASSWORD, fixture, openssl_verifies, temp_dir};
    use super::*;
    use crate::env::Environment;
    use crate::secret::Secret;

    fn password() -> Secret {
        Secret::new(FIXTURE_PASSWORD)
    }

    #[test]
    fn a_key_written_by_an_independent_tool_signs_and_openssl_verifies() {
        for stem in ["sigstore", "legacy"] {
            let pair = CosignKeyPair::load(&fixture(&format!("{stem}.key")), &password(), "test").unwrap();
            // The public key derived from the decrypted private key is the one the tool wrote.
            let written = PublicKey::load(&fixture(&format!("{stem}.pub"))).unwrap();
            assert_eq!(pair.public_key(), &written, "{stem}");

            let (_dir, tmp) = temp_dir();
            let blob = tmp.join("blob.bin");
            std::fs::write(&blob, b"release artifact bytes").unwrap();
            let signature = pair.sign_base64(b"release artifact bytes").unwrap();
            assert!(openssl_verifies(&fixture(&format!("{stem}.pub")), &signature, &blob), "{stem}");

            std::fs::write(&blob, b"release artifact bytes, altered").unwrap();
            assert!(!openssl_verifies(&fixture(&format!("{stem}.pub")), &signature, &blob), "{stem}");
        }
    }

    #[test]
    fn a_signature_made_by_an_independent_tool_verifies() {
        let key = PublicKey::load(&fixture("sigstore.pub")).unwrap();
        let blob = std::fs::read(fixture("hello.txt")).unwrap();
        let text = std::fs::read_to_string(fixture("hello.txt.sig")).unwrap();
        let signature = BlobSignature::from_base64(&text).unwrap();
        assert_eq!(key.verify(&blob, &signature), Ok(()));
        assert!(key.verify(b"hello from someone else\n", &signature).is_err());
        // The other fixture key did not make it.
        assert!(PublicKey::load(&fixture("legacy.pub")).unwrap().verify(&blob, &signature).is_err());
    }

    #[test]
    fn a_wrong_password_says_so_and_names_the_key() {
        let path = fixture("sigstore.key");
        let err = CosignKeyPair::load(&path, &Secret::new("not the password"), "environment variable COSIGN_PASSWORD")
            .unwrap_err();
        assert!(matches!(err, SigningError::WrongPassword { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("wrong password for {path} (from environment variable COSIGN_PASSWORD)"));
        let err = CosignKeyPair::load(&fixture("legacy.key"), &Secret::new("nope"), "x").unwrap_err();
        assert!(err.to_string().starts_with("wrong password for "), "{err}");
    }

    #[test]
    fn a_missing_key_is_named() {
        let (_dir, tmp) = temp_dir();
        let err = CosignKeyPair::load(&tmp.join("cosign.key"), &password(), "x").unwrap_err();
        assert!(matches!(err, SigningError::KeyMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("cosign.key does not exist"), "{err}");
    }

    #[test]
    fn an_unset_password_variable_is_named() {
        let env = Environment::empty().with("OTHER", "x");
        let err =
            CosignKeyPair::load_with_password_from(&fixture("sigstore.key"), &env, "RELEASE_KEY_PASSWORD").unwrap_err();
        assert!(matches!(err, SigningError::PasswordMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("the environment variable RELEASE_KEY_PASSWORD is empty or unset"), "{err}");

        let env = Environment::empty().with("COSIGN_PASSWORD", FIXTURE_PASSWORD);
        let (_, source) =
            CosignKeyPair::load_with_password_from(&fixture("sigstore.key"), &env, "COSIGN_PASSWORD").unwrap();
        assert_eq!(source, key::PasswordSource::Variable(crate::secret::Source::env("COSIGN_PASSWORD")));
    }

    #[test]
    fn a_key_with_an_empty_password_opens_without_the_variable() {
        let (_dir, tmp) = temp_dir();
        let pair = CosignKeyPair::generate().unwrap();
        pair.write(&tmp.join("cosign.key"), &tmp.join("cosign.pub"), &Secret::new(""), false).unwrap();
        let (opened, source) =
            CosignKeyPair::load_with_password_from(&tmp.join("cosign.key"), &Environment::empty(), "COSIGN_PASSWORD")
                .unwrap();
        assert_eq!(source, key::PasswordSource::Empty);
        assert_eq!(opened.public_key(), pair.public_key());
    }

    #[test]
    fn files_that_are_not_private_keys_are_explained() {
        let err = CosignKeyPair::load(&fixture("sigstore.pub"), &password(), "x").unwrap_err();
        assert!(err.to_string().contains("its PEM label is `PUBLIC KEY`"), "{err}");
        let err = CosignKeyPair::load(&fixture("hello.txt"), &password(), "x").unwrap_err();
        assert!(err.to_string().contains("contains no PEM block"), "{err}");
        let err = PublicKey::load(&fixture("sigstore.key")).unwrap_err();
        assert!(err.to_string().contains("it is a private key"), "{err}");
    }

    #[test]
    fn generated_pairs_round_trip_through_files() {
        let (_dir, tmp) = temp_dir();
        let (key_path, pub_path) = (tmp.join("cosign.key"), tmp.join("cosign.pub"));
        let pair = CosignKeyPair::generate().unwrap();
        pair.write(&key_path, &pub_path, &password(), false).unwrap();

        let text = std::fs::read_to_string(&key_path).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), "{text}");
        assert!(!text.contains('\r'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let loaded = CosignKeyPair::load(&key_path, &password(), "x").unwrap();
        assert_eq!(loaded.public_key(), pair.public_key());
        assert_eq!(&PublicKey::load(&pub_path).unwrap(), pair.public_key());

        // The written public key verifies, with openssl, what the loaded private key signs.
        let blob = tmp.join("blob");
        std::fs::write(&blob, b"x").unwrap();
        assert!(openssl_verifies(&pub_path, &loaded.sign_base64(b"x").unwrap(), &blob));
    }

    #[test]
    fn writing_never_replaces_a_file_unless_asked() {
        let (_dir, tmp) = temp_dir();
        let (key_path, pub_path) = (tmp.join("cosign.key"), tmp.join("cosign.pub"));
        std::fs::write(&pub_path, "precious").unwrap();
        let pair = CosignKeyPair::generate().unwrap();
        let err = pair.write(&key_path, &pub_path, &password(), false).unwrap_err();
        assert!(matches!(err, SigningError::Exists { ref path } if *path == pub_path), "{err:?}");
        // Neither file was written.
        assert!(!key_path.exists());
        assert_eq!(std::fs::read_to_string(&pub_path).unwrap(), "precious");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(&key_path, "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nold\n").unwrap();
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        #[cfg(not(unix))]
        std::fs::write(&key_path, "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nold\n").unwrap();
        // Even with overwrite, a file that is not a key of its kind is kept.
        let err = pair.write(&key_path, &pub_path, &password(), true).unwrap_err();
        assert!(matches!(err, SigningError::NotReplaceable { ref path, .. } if *path == pub_path), "{err:?}");
        assert_eq!(std::fs::read_to_string(&pub_path).unwrap(), "precious");
        std::fs::write(&pub_path, "-----BEGIN PUBLIC KEY-----\nold\n-----END PUBLIC KEY-----\n").unwrap();
        pair.write(&key_path, &pub_path, &password(), true).unwrap();
        assert_eq!(&PublicKey::load(&pub_path).unwrap(), pair.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let pair = CosignKeyPair::load(&fixture("sigstore.key"), &password(), "x").unwrap();
        let debug = format!("{pair:?}");
        assert!(debug.contains("sha256:"), "{debug}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}

mod files {
    use super::test_support::{FIXTURE_PASSWORD, fixture, temp_dir};
    use super::*;
    use crate::checksum::sha256_hex;
    use crate::secret::Secret;

    #[test]
    fn checksums_and_every_listed_file_are_verified() {
        let (_dir, tmp) = temp_dir();
        let pair = CosignKeyPair::load(&fixture("sigstore.key"), &Secret::new(FIXTURE_PASSWORD), "x").unwrap();
        let mut sums = String::new();
        for (name, bytes) in [("a.tar.gz", &b"aaa"[..]), ("b.tgz", &b"bbb"[..])] {
            std::fs::write(tmp.join(name), bytes).unwrap();
            std::fs::write(tmp.join(signature_name(name)), pair.sign_base64(bytes).unwrap()).unwrap();
            sums.push_str(&format!("{}  {name}\n", sha256_hex(bytes)));
        }
        std::fs::write(tmp.join("SHA256SUMS"), &sums).unwrap();
        std::fs::write(tmp.join("SHA256SUMS.sig"), pair.sign_base64(sums.as_bytes()).unwrap()).unwrap();

        let verdicts = verify::verify_checksums(pair.public_key(), &tmp.join("SHA256SUMS")).unwrap();
        assert_eq!(verdicts.len(), 3);
        assert!(verdicts.iter().all(FileVerdict::passed), "{verdicts:?}");

        // Tamper with one file: its digest and its signature fail, the others still pass.
        std::fs::write(tmp.join("b.tgz"), b"bbX").unwrap();
        std::fs::remove_file(tmp.join("a.tar.gz.sig")).unwrap();
        let verdicts = verify::verify_checksums(pair.public_key(), &tmp.join("SHA256SUMS")).unwrap();
        assert!(verdicts[0].passed());
        assert!(matches!(verdicts[1].failures[..], [VerifyFailure::Unsigned { .. }]), "{verdicts:?}");
        assert!(
            matches!(
                verdicts[2].failures[..],
                [VerifyFailure::DigestMismatch { .. }, VerifyFailure::SignatureMismatch { .. }]
            ),
            "{verdicts:?}"
        );

        // Another key's public key verifies nothing.
        let other = PublicKey::load(&fixture("legacy.pub")).unwrap();
        let verdicts = verify::verify_checksums(&other, &tmp.join("SHA256SUMS")).unwrap();
        assert!(verdicts.iter().all(|v| !v.passed()), "{verdicts:?}");
    }

    #[test]
    fn a_garbled_signature_file_is_reported_as_such() {
        let (_dir, tmp) = temp_dir();
        std::fs::write(tmp.join("f"), b"f").unwrap();
        std::fs::write(tmp.join("f.sig"), "%%% not base64 %%%").unwrap();
        let key = PublicKey::load(&fixture("sigstore.pub")).unwrap();
        let verdict = verify::verify_file(&key, &tmp.join("f"), &verify::Signatures::Beside, None);
        assert!(matches!(verdict.failures[..], [VerifyFailure::SignatureMalformed { .. }]), "{verdict:?}");
    }

    /// A key pair's bundle beside a file, as the sign step writes it.
    fn write_key_bundle(pair: &CosignKeyPair, file: &Utf8Path) {
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(file).unwrap()).into();
        let signature = pair.sign_sha256(&digest).unwrap();
        let json = bundle::key_bundle_json(pair.public_key().spki_der(), signature.der(), &digest).unwrap();
        std::fs::write(bundle::bundle_path(file), json).unwrap();
    }

    #[test]
    fn a_key_bundle_beside_a_file_is_checked_alone_or_with_the_sig() {
        use verify::{SignatureFile, Signatures};
        let (_dir, tmp) = temp_dir();
        let pair = CosignKeyPair::load(&fixture("sigstore.key"), &Secret::new(FIXTURE_PASSWORD), "x").unwrap();
        let key = pair.public_key();
        let file = tmp.join("app");
        std::fs::write(&file, b"the app").unwrap();

        let verdict = verify::verify_file(key, &file, &Signatures::Beside, None);
        assert!(
            matches!(&verdict.failures[..], [VerifyFailure::Unsigned { looked_for }] if looked_for.len() == 2),
            "{verdict:?}"
        );
        assert!(verdict.failures[0].to_string().contains("app.sig nor"), "{}", verdict.failures[0]);

        // The bundle alone.
        write_key_bundle(&pair, &file);
        let verdict = verify::verify_file(key, &file, &Signatures::Beside, None);
        assert!(verdict.passed(), "{verdict:?}");
        assert_eq!(verdict.signatures, [SignatureFile::Bundle(tmp.join("app.sigstore.json"))]);

        // Both: each must verify; a bad .sig fails though the bundle is good.
        std::fs::write(tmp.join("app.sig"), pair.sign_base64(b"other bytes").unwrap()).unwrap();
        let verdict = verify::verify_file(key, &file, &Signatures::Beside, None);
        assert_eq!(verdict.signatures.len(), 2);
        assert!(matches!(verdict.failures[..], [VerifyFailure::SignatureMismatch { .. }]), "{verdict:?}");
        std::fs::write(tmp.join("app.sig"), pair.sign_base64(b"the app").unwrap()).unwrap();
        assert!(verify::verify_file(key, &file, &Signatures::Beside, None).passed());

        // A bundle given elsewhere, and one that does not exist.
        let elsewhere = tmp.join("elsewhere.json");
        std::fs::rename(tmp.join("app.sigstore.json"), &elsewhere).unwrap();
        let given = Signatures::Given(vec![SignatureFile::Bundle(elsewhere.clone())]);
        assert!(verify::verify_file(key, &file, &given, None).passed());
        let missing = Signatures::Given(vec![SignatureFile::Bundle(tmp.join("app.sigstore.json"))]);
        let verdict = verify::verify_file(key, &file, &missing, None);
        assert!(matches!(verdict.failures[..], [VerifyFailure::SignatureMissing { .. }]), "{verdict:?}");
    }

    #[test]
    fn a_key_bundle_of_another_key_file_or_kind_fails_with_its_reason() {
        use bundle::{KeyBundleError, verify_key_bundle};
        let (_dir, tmp) = temp_dir();
        let pair = CosignKeyPair::load(&fixture("sigstore.key"), &Secret::new(FIXTURE_PASSWORD), "x").unwrap();
        let key = pair.public_key();
        let file = tmp.join("app");
        std::fs::write(&file, b"the app").unwrap();
        write_key_bundle(&pair, &file);
        let path = bundle::bundle_path(&file);
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"the app").into();
        verify_key_bundle(key, &path, &digest).unwrap();

        // Another key: named by its hint, before any signature is tried.
        let other = PublicKey::load(&fixture("legacy.pub")).unwrap();
        let err = verify_key_bundle(&other, &path, &digest).unwrap_err();
        assert!(
            matches!(&err, KeyBundleError::OtherKey { hint, .. } if *hint == bundle::public_key_hint(key.spki_der())),
            "{err}"
        );
        assert!(err.to_string().starts_with("the bundle app.sigstore.json names another key"), "{err}");

        // Other bytes: a tampered file, or the bundle of another file.
        let other_digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"the app, changed").into();
        let err = verify_key_bundle(key, &path, &other_digest).unwrap_err();
        assert!(matches!(err, KeyBundleError::DigestMismatch { .. }), "{err}");
        assert!(err.to_string().contains(&hex::encode(other_digest)), "{err}");

        // Without the optional hint and digest, the signature decides.
        let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["verificationMaterial"]["publicKey"].as_object_mut().unwrap().remove("hint");
        value["messageSignature"].as_object_mut().unwrap().remove("messageDigest");
        std::fs::write(&path, value.to_string()).unwrap();
        verify_key_bundle(key, &path, &digest).unwrap();
        let err = verify_key_bundle(&other, &path, &digest).unwrap_err();
        assert!(matches!(err, KeyBundleError::SignatureMismatch { .. }), "{err}");
        let err = verify_key_bundle(key, &path, &other_digest).unwrap_err();
        assert!(matches!(err, KeyBundleError::SignatureMismatch { .. }), "{err}");

        // A keyless bundle, an attestation, and what is no bundle at all.
        value["verificationMaterial"] = serde_json::json!({"certificate": {"rawBytes": "AAAA"}, "tlogEntries": []});
        std::fs::write(&path, value.to_string()).unwrap();
        let err = verify_key_bundle(key, &path, &digest).unwrap_err();
        assert!(matches!(err, KeyBundleError::Keyless { .. }) && err.to_string().contains("without --key"), "{err}");
        value["verificationMaterial"] = serde_json::json!({"publicKey": {}});
        value.as_object_mut().unwrap().remove("messageSignature");
        value["dsseEnvelope"] =
            serde_json::json!({"payload": "", "payloadType": "application/vnd.in-toto+json", "signatures": []});
        std::fs::write(&path, value.to_string()).unwrap();
        assert!(matches!(verify_key_bundle(key, &path, &digest), Err(KeyBundleError::Envelope { .. })));
        std::fs::write(&path, "{\"mediaType\": \"text/plain\"}").unwrap();
        assert!(matches!(verify_key_bundle(key, &path, &digest), Err(KeyBundleError::NotABundle { .. })));
        std::fs::write(&path, "not json").unwrap();
        let err = verify_key_bundle(key, &path, &digest).unwrap_err();
        assert!(err.to_string().starts_with("app.sigstore.json is not a Sigstore bundle: it is not JSON"), "{err}");
    }
}

/// The streamed path (sign and verify a digest) and the whole-message path (what
/// `cosign sign-blob` does) are the same signature scheme: each verifies the other's output,
/// and a wrong digest fails.
#[test]
fn digest_signatures_and_blob_signatures_are_interchangeable() {
    let pair = CosignKeyPair::generate().unwrap();
    let key = Signer::public_key(&pair).unwrap().clone();
    let blob = b"release artifact bytes";
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(blob).into();

    let by_digest = pair.sign_sha256(&digest).unwrap();
    key.verify(blob, &by_digest).expect("a digest signature verifies over the bytes");
    let by_blob = pair.sign(blob).unwrap();
    key.verify_sha256(&digest, &by_blob).expect("a blob signature verifies over the digest");

    let mut other = digest;
    other[0] ^= 1;
    assert!(key.verify_sha256(&other, &by_digest).is_err());
    assert!(key.verify(b"other bytes", &by_digest).is_err());
}
