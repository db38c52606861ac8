//! Fulcio v2 (protocols-sigstore.md §2): the CA, its CT log, and `POST /api/v2/signingCert`.
//!
//! The CA is a root and an intermediate (`O=sigstore.dev, CN=sigstore-intermediate` in the
//! shape of the public instance); the root is only in the trusted root, responses carry
//! leaf → intermediate → root. A leaf has an empty subject, a critical URI SAN
//! `https://github.com/<job_workflow_ref>`, digitalSignature (critical), codeSigning, the
//! GitHub workflow extensions (1.1–1.6 raw bytes, 1.8+ UTF8String) and an embedded SCT
//! list whose SCT is signed by the CT log key of the trusted root over the precertificate
//! (the leaf's TBSCertificate without the SCT extension), as RFC 6962 defines it. It lives
//! ten minutes.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SignatureAlgorithm,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::der;

/// The claims Fulcio's GitHub principal requires, non-empty (sigstore/fulcio
/// `pkg/identity/github/principal.go`).
pub const REQUIRED_CLAIMS: [&str; 16] = [
    "job_workflow_ref",
    "sha",
    "event_name",
    "repository",
    "workflow",
    "ref",
    "job_workflow_sha",
    "runner_environment",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "workflow_ref",
    "workflow_sha",
    "run_id",
    "run_attempt",
];

/// The certificate authority and the CT log that countersigns its certificates.
#[derive(Debug)]
pub struct Authority {
    pub root_der: Vec<u8>,
    intermediate_params: CertificateParams,
    intermediate_key: rcgen::KeyPair,
    pub intermediate_der: Vec<u8>,
    ct_key: EcdsaKeyPair,
    pub ct_spki: Vec<u8>,
    serial: std::sync::atomic::AtomicU64,
}

impl Authority {
    pub fn generate() -> Self {
        let now = super::oidc::now();
        let root_key = rcgen::KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a root key");
        let mut root_params = CertificateParams::new(Vec::<String>::new()).expect("root params");
        root_params.distinguished_name = DistinguishedName::new();
        root_params.distinguished_name.push(DnType::OrganizationName, "sigstore.dev");
        root_params.distinguished_name.push(DnType::CommonName, "sigstore");
        root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root_params.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(now - 86_400);
        root_params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(now + 365 * 86_400);
        let root = root_params.self_signed(&root_key).expect("the root certificate");

        let intermediate_key = rcgen::KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("an intermediate key");
        let mut intermediate_params = CertificateParams::new(Vec::<String>::new()).expect("intermediate params");
        intermediate_params.distinguished_name = DistinguishedName::new();
        intermediate_params.distinguished_name.push(DnType::OrganizationName, "sigstore.dev");
        intermediate_params.distinguished_name.push(DnType::CommonName, "sigstore-intermediate");
        intermediate_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        intermediate_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        intermediate_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        intermediate_params.use_authority_key_identifier_extension = true;
        intermediate_params.not_before = root_params.not_before;
        intermediate_params.not_after = root_params.not_after;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &Issuer::from_params(&root_params, &root_key))
            .expect("the intermediate certificate");

        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a CT log key");
        let ct_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("a CT log key");
        let ct_spki = der::p256_spki(ct_key.public_key().as_ref());
        Authority {
            root_der: root.der().to_vec(),
            intermediate_der: intermediate.der().to_vec(),
            intermediate_params,
            intermediate_key,
            ct_key,
            ct_spki,
            serial: std::sync::atomic::AtomicU64::new(0x1000),
        }
    }

    /// The CT log id: SHA-256 of its SubjectPublicKeyInfo.
    pub fn ct_log_id(&self) -> [u8; 32] {
        Sha256::digest(&self.ct_spki).into()
    }

    /// Issues a leaf for `point` (an uncompressed P-256 point) and the token's claims, with an
    /// embedded SCT when `with_sct` (a Fulcio without a CT log, like GitHub's private
    /// instance, issues the certificate directly, without one).
    pub fn issue(&self, point: &[u8], claims: &Value, now: u64, with_sct: bool) -> Vec<u8> {
        let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let gh = |path: String| format!("https://github.com/{path}");
        let san = gh(claim("job_workflow_ref"));
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(san.clone().try_into().expect("an IA5 URI"))];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        let serial = self.serial.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(now);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(now + 600);
        let raw = |n: u64, value: String| {
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, n], value.into_bytes())
        };
        let utf8 = |n: u64, value: String| {
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, n], der::tlv(0x0c, value.as_bytes()))
        };
        let repository = claim("repository");
        params.custom_extensions = vec![
            raw(1, claim("iss")),
            raw(2, claim("event_name")),
            raw(3, claim("sha")),
            raw(4, claim("workflow")),
            raw(5, repository.clone()),
            raw(6, claim("ref")),
            utf8(8, claim("iss")),
            utf8(9, san),
            utf8(10, claim("job_workflow_sha")),
            utf8(11, claim("runner_environment")),
            utf8(12, gh(repository.clone())),
            utf8(13, claim("sha")),
            utf8(14, claim("ref")),
            utf8(15, claim("repository_id")),
            utf8(16, gh(claim("repository_owner"))),
            utf8(17, claim("repository_owner_id")),
            utf8(18, gh(claim("workflow_ref"))),
            utf8(19, claim("workflow_sha")),
            utf8(20, claim("event_name")),
            utf8(
                21,
                format!(
                    "https://github.com/{repository}/actions/runs/{}/attempts/{}",
                    claim("run_id"),
                    claim("run_attempt")
                ),
            ),
            utf8(22, claim("repository_visibility")),
            utf8(24, claim("sub")),
        ];
        let key = ClientKey(point.to_vec());
        let issuer = Issuer::from_params(&self.intermediate_params, &self.intermediate_key);
        if !with_sct {
            return params.signed_by(&key, &issuer).expect("the leaf certificate").der().to_vec();
        }
        // The precertificate's TBS is the final TBS without the SCT extension: rcgen writes
        // custom extensions last and everything else here is fixed, so the TBS of the
        // certificate issued without it is exactly that.
        let pre = params.signed_by(&key, &issuer).expect("the precertificate");
        let tbs = der::certificate_tbs(pre.der()).expect("a TBSCertificate");
        let sct = self.sct(&tbs, now * 1000);
        let mut list = Vec::new();
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(sct);
        let mut tls_list = (list.len() as u16).to_be_bytes().to_vec();
        tls_list.extend(list);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], der::tlv(0x04, &tls_list)));
        params.signed_by(&key, &issuer).expect("the leaf certificate").der().to_vec()
    }

    /// An RFC 6962 v1 SCT for a precertificate entry.
    fn sct(&self, tbs: &[u8], timestamp_ms: u64) -> Vec<u8> {
        let issuer_key_hash: [u8; 32] =
            Sha256::digest(der::certificate_spki(&self.intermediate_der).expect("intermediate SPKI")).into();
        let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
        signed.extend(timestamp_ms.to_be_bytes());
        signed.extend(1u16.to_be_bytes()); // precert_entry
        signed.extend(issuer_key_hash);
        let len = tbs.len() as u32;
        signed.extend(&len.to_be_bytes()[1..]);
        signed.extend(tbs);
        signed.extend(0u16.to_be_bytes()); // no extensions
        let sig = self.ct_key.sign(&SystemRandom::new(), &signed).expect("sign the SCT");
        let mut sct = vec![0u8];
        sct.extend(self.ct_log_id());
        sct.extend(timestamp_ms.to_be_bytes());
        sct.extend(0u16.to_be_bytes());
        sct.extend([4u8, 3u8]); // sha256, ecdsa
        sct.extend((sig.as_ref().len() as u16).to_be_bytes());
        sct.extend(sig.as_ref());
        sct
    }
}

/// A client's public key, as rcgen wants it.
struct ClientKey(Vec<u8>);

impl PublicKeyData for ClientKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// Why a signing-certificate request is refused: Fulcio's own messages (grpc
/// InvalidArgument, HTTP 400).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Token,
    KeyUnparsable,
    Signature,
    Csr,
    Insecure,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Token => "There was an error processing the identity token",
            Refusal::KeyUnparsable => "The public key supplied in the request could not be parsed",
            Refusal::Signature => "The signature supplied in the request could not be verified",
            Refusal::Csr => "The certificate signing request could not be parsed",
            Refusal::Insecure => "The public key supplied in the request is insecure",
        }
    }
}

/// Which of the three request shapes a client used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `publicKeyRequest` with the token in the body (sigstore-rust, sigstore-js).
    PublicKeyBodyToken,
    /// `publicKeyRequest` with `Authorization: Bearer`.
    PublicKeyBearer,
    /// `certificateSigningRequest` (sigstore-python sends it with `Authorization: Bearer`).
    Csr,
}

/// A parsed request: the token, the key's point, the shape, and the proof of possession
/// (None for a CSR, whose self-signature is the proof).
pub type Parsed = (String, Vec<u8>, Shape, Option<Vec<u8>>);

/// A parsed request, or Fulcio's refusal.
pub fn parse_request(body: &Value, bearer: Option<&str>) -> Result<Parsed, Refusal> {
    let body_token = body.pointer("/credentials/oidcIdentityToken").and_then(Value::as_str);
    let token = body_token.or(bearer).ok_or(Refusal::Token)?.to_string();
    if let Some(request) = body.get("publicKeyRequest") {
        let algorithm = request.pointer("/publicKey/algorithm").and_then(Value::as_str).unwrap_or("");
        if !matches!(algorithm, "" | "ECDSA" | "EC") {
            return Err(Refusal::KeyUnparsable);
        }
        let content = request.pointer("/publicKey/content").and_then(Value::as_str).ok_or(Refusal::KeyUnparsable)?;
        let spki = der::pem_blocks(content)
            .into_iter()
            .find(|(label, _)| label == "PUBLIC KEY")
            .map(|(_, der)| der)
            .ok_or(Refusal::KeyUnparsable)?;
        let point = der::p256_point(&spki).ok_or(Refusal::Insecure)?.to_vec();
        let pop = request
            .get("proofOfPossession")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or(Refusal::Signature)?;
        let shape = if body_token.is_some() { Shape::PublicKeyBodyToken } else { Shape::PublicKeyBearer };
        return Ok((token, point, shape, Some(pop)));
    }
    let csr_b64 = body.get("certificateSigningRequest").and_then(Value::as_str).ok_or(Refusal::KeyUnparsable)?;
    let csr_pem = STANDARD.decode(csr_b64).map_err(|_| Refusal::Csr)?;
    let csr_pem = String::from_utf8(csr_pem).map_err(|_| Refusal::Csr)?;
    let csr = der::pem_blocks(&csr_pem)
        .into_iter()
        .find(|(label, _)| label == "CERTIFICATE REQUEST")
        .map(|(_, der)| der)
        .ok_or(Refusal::Csr)?;
    let point = verify_csr(&csr)?;
    Ok((token, point, Shape::Csr, None))
}

/// Checks a PKCS#10 request's self-signature (its proof of possession); returns the point.
fn verify_csr(csr: &[u8]) -> Result<Vec<u8>, Refusal> {
    let (outer, _) = der::read_tlv(csr).ok_or(Refusal::Csr)?;
    let parts = der::elements(outer.contents).ok_or(Refusal::Csr)?;
    let [info, _alg, sig] = parts.as_slice() else { return Err(Refusal::Csr) };
    let info_parts = der::elements(info.contents).ok_or(Refusal::Csr)?;
    let spki = info_parts.get(2).ok_or(Refusal::Csr)?.raw;
    let point = der::p256_point(spki).ok_or(Refusal::Insecure)?;
    let signature = sig.contents.get(1..).ok_or(Refusal::Csr)?; // skip the unused-bits byte
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(info.raw, signature)
        .map_err(|_| Refusal::Signature)?;
    Ok(point.to_vec())
}

/// Checks the proof of possession: a signature over the token's `sub`.
pub fn verify_pop(point: &[u8], subject: &str, pop: &[u8]) -> Result<(), Refusal> {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(subject.as_bytes(), pop)
        .map_err(|_| Refusal::Signature)
}

/// Checks the token's claims the way Fulcio's GitHub principal does.
pub fn check_claims(claims: &Value, now: u64) -> Result<(), Refusal> {
    let iss_ok = claims.get("iss").and_then(Value::as_str) == Some(super::oidc::ISSUER);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == "sigstore",
        Some(Value::Array(list)) => list.iter().any(|a| a == "sigstore"),
        _ => false,
    };
    let exp_ok = claims.get("exp").and_then(Value::as_u64).is_some_and(|exp| exp > now);
    let all_present =
        REQUIRED_CLAIMS.iter().all(|name| claims.get(*name).and_then(Value::as_str).is_some_and(|v| !v.is_empty()));
    if iss_ok && aud_ok && exp_ok && all_present { Ok(()) } else { Err(Refusal::Token) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> (EcdsaKeyPair, String) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let pem = der::pem("PUBLIC KEY", &der::p256_spki(key.public_key().as_ref()));
        (key, pem)
    }

    fn request(algorithm: Option<&str>, pem: &str, pop: &[u8], token_in_body: bool) -> Value {
        let mut public_key = json!({"content": pem});
        if let Some(a) = algorithm {
            public_key["algorithm"] = json!(a);
        }
        let mut body =
            json!({"publicKeyRequest": {"publicKey": public_key, "proofOfPossession": STANDARD.encode(pop)}});
        if token_in_body {
            body["credentials"] = json!({"oidcIdentityToken": "jwt"});
        }
        body
    }

    #[test]
    fn the_public_key_shapes_with_body_or_bearer_token_and_the_proof_over_sub() {
        let (key, pem) = key();
        let sub = "repo:acme/hello:ref:refs/tags/v1";
        let pop = key.sign(&SystemRandom::new(), sub.as_bytes()).unwrap();
        for algorithm in [None, Some(""), Some("ECDSA")] {
            let (token, point, shape, proof) =
                parse_request(&request(algorithm, &pem, pop.as_ref(), true), None).unwrap();
            assert_eq!((token.as_str(), shape), ("jwt", Shape::PublicKeyBodyToken));
            verify_pop(&point, sub, &proof.unwrap()).unwrap();
        }
        let (token, point, shape, proof) =
            parse_request(&request(Some("ECDSA"), &pem.replace('\n', "\r\n"), pop.as_ref(), false), Some("bearer-jwt"))
                .unwrap();
        assert_eq!((token.as_str(), shape), ("bearer-jwt", Shape::PublicKeyBearer));
        assert_eq!(verify_pop(&point, "repo:acme/other:ref:refs/tags/v1", &proof.unwrap()), Err(Refusal::Signature));
        assert_eq!(
            parse_request(&request(Some("RSA"), &pem, pop.as_ref(), true), None).unwrap_err(),
            Refusal::KeyUnparsable
        );
        assert_eq!(parse_request(&request(None, &pem, pop.as_ref(), false), None).unwrap_err(), Refusal::Token);
    }

    #[test]
    fn claims_fulcio_requires() {
        let mut claims = super::super::oidc::Workflow::new("acme/hello", "refs/tags/v1").claims("sigstore", 100);
        check_claims(&claims, 101).unwrap();
        assert_eq!(check_claims(&claims, 1000), Err(Refusal::Token), "expired");
        claims["workflow_sha"] = json!("");
        assert_eq!(check_claims(&claims, 101), Err(Refusal::Token));
    }
}
