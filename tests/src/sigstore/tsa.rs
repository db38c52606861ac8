//! An RFC 3161 timestamp authority (protocols-sigstore.md §3.3), in the shape of
//! sigstore/timestamp-authority and GitHub's `timestamp.githubapp.com`.
//!
//! `POST /api/v1/timestamp` takes a DER `TimeStampReq` (`application/timestamp-query`, what
//! sigstore-python and sigstore-rust send) or the JSON form sigstore-js sends
//! (`{"artifactHash","hashAlgorithm","certificates","nonce"}`) and answers `201` with a DER
//! `TimeStampResp` (`application/timestamp-reply`): status granted and a CMS SignedData
//! over a `TSTInfo` (policy 1.3.6.1.4.1.57264.2, the request's message imprint and nonce, a
//! DER-clean GeneralizedTime), signed with ECDSA P-256 over signed attributes that carry the
//! content type, the message digest and an ESS signing-certificate-v2 naming the TSA's
//! certificate. The certificate chain is leaf → intermediate → root in the shape of GitHub's
//! (`O=GitHub, Inc.`, `CN=TSA Timestamping` with a critical timeStamping EKU, `CN=TSA
//! intermediate`, `CN=Internal Services Root`); the trusted root lists it under
//! `timestampAuthorities`. `GET /api/v1/timestamp/certchain` serves it as PEM.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::der::{self, tlv};

const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_TST_INFO: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const OID_SIGNING_CERTIFICATE_V2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f];
/// sigstore/timestamp-authority's default policy, 1.3.6.1.4.1.57264.2.
const OID_POLICY: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x02];
/// id-kp-timeStamping, 1.3.6.1.5.5.7.3.8.
const OID_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// The TSA's key and certificate chain.
#[derive(Debug)]
pub struct TimestampAuthority {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
    key: EcdsaKeyPair,
    serial: AtomicU64,
}

/// What a timestamp request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `MessageImprint` element, byte for byte (echoed in the `TSTInfo`).
    pub imprint: Vec<u8>,
    /// The hashed message (SHA-256 of the signature, for Sigstore clients).
    pub hash: Vec<u8>,
    /// The nonce `INTEGER` element, byte for byte.
    pub nonce: Option<Vec<u8>>,
    /// Whether the TSA's certificate goes into the answer.
    pub cert_req: bool,
}

impl TimestampAuthority {
    pub fn generate() -> Self {
        let now = super::oidc::now();
        let at = |secs: u64| rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(secs);
        let name = |cn: &str| {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::OrganizationName, "GitHub, Inc.");
            dn.push(DnType::CommonName, cn);
            dn
        };
        let root_key = rcgen::KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a TSA root key");
        let mut root_params = CertificateParams::new(Vec::<String>::new()).expect("root params");
        root_params.distinguished_name = name("Internal Services Root");
        root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(2));
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root_params.not_before = at(now - 86_400);
        root_params.not_after = at(now + 365 * 86_400);
        let root = root_params.self_signed(&root_key).expect("the TSA root certificate");

        let intermediate_key = rcgen::KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a TSA intermediate key");
        let mut intermediate_params = CertificateParams::new(Vec::<String>::new()).expect("intermediate params");
        intermediate_params.distinguished_name = name("TSA intermediate");
        intermediate_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        intermediate_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        intermediate_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::TimeStamping];
        intermediate_params.use_authority_key_identifier_extension = true;
        intermediate_params.not_before = root_params.not_before;
        intermediate_params.not_after = root_params.not_after;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &Issuer::from_params(&root_params, &root_key))
            .expect("the TSA intermediate certificate");

        let leaf_key = rcgen::KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a TSA signing key");
        let mut leaf_params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        leaf_params.distinguished_name = name("TSA Timestamping");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // RFC 3161 §2.3: exactly one EKU, timeStamping, and critical (rcgen writes its own
        // EKU extension non-critical, so this one is written by hand).
        let mut eku = CustomExtension::from_oid_content(&[2, 5, 29, 37], tlv(0x30, &tlv(0x06, OID_TIME_STAMPING)));
        eku.set_criticality(true);
        leaf_params.custom_extensions = vec![eku];
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.not_before = root_params.not_before;
        leaf_params.not_after = root_params.not_after;
        let leaf = leaf_params
            .signed_by(&leaf_key, &Issuer::from_params(&intermediate_params, &intermediate_key))
            .expect("the TSA leaf certificate");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &leaf_key.serialize_der())
            .expect("the TSA signing key");
        TimestampAuthority {
            root_der: root.der().to_vec(),
            intermediate_der: intermediate.der().to_vec(),
            leaf_der: leaf.der().to_vec(),
            key,
            serial: AtomicU64::new(0x2000),
        }
    }

    /// leaf → intermediate → root, as `trustedRoot.timestampAuthorities[].certChain` lists it.
    pub fn chain(&self) -> [&[u8]; 3] {
        [&self.leaf_der, &self.intermediate_der, &self.root_der]
    }

    /// `GET /api/v1/timestamp/certchain`: the chain as PEM.
    pub fn chain_pem(&self) -> String {
        self.chain().iter().map(|d| der::pem("CERTIFICATE", d)).collect()
    }

    /// A DER `TimeStampResp` granting `request` at `now` (Unix seconds).
    pub fn respond(&self, request: &Request, now: u64) -> Vec<u8> {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let mut tst_info = [
            tlv(0x02, &[1]),
            tlv(0x06, OID_POLICY),
            request.imprint.clone(),
            tlv(0x02, &positive(&serial.to_be_bytes())),
            tlv(0x18, generalized_time(now).as_bytes()),
            tlv(0x30, &tlv(0x02, &[1])), // accuracy: one second
        ]
        .concat();
        if let Some(nonce) = &request.nonce {
            tst_info.extend_from_slice(nonce);
        }
        let tst_info = tlv(0x30, &tst_info);

        let sha256 = tlv(0x30, &tlv(0x06, OID_SHA256));
        let attribute = |oid: &[u8], value: Vec<u8>| tlv(0x30, &[tlv(0x06, oid), tlv(0x31, &value)].concat());
        let mut attributes = [
            attribute(OID_CONTENT_TYPE, tlv(0x06, OID_TST_INFO)),
            attribute(OID_MESSAGE_DIGEST, tlv(0x04, &Sha256::digest(&tst_info))),
            // SigningCertificateV2 { certs: [ESSCertIDv2 { certHash }] } (hash algorithm: the default SHA-256)
            attribute(
                OID_SIGNING_CERTIFICATE_V2,
                tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x04, &Sha256::digest(&self.leaf_der))))),
            ),
        ];
        // DER orders a SET OF by the encodings of its elements.
        attributes.sort();
        let attributes = attributes.concat();
        let signature =
            self.key.sign(&SystemRandom::new(), &tlv(0x31, &attributes)).expect("sign the timestamp").as_ref().to_vec();

        let (issuer, serial_number) = issuer_and_serial(&self.leaf_der).expect("the TSA certificate's issuer");
        let signer_info = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),
                tlv(0x30, &[issuer, serial_number].concat()),
                sha256.clone(),
                tlv(0xa0, &attributes),
                tlv(0x30, &tlv(0x06, OID_ECDSA_SHA256)),
                tlv(0x04, &signature),
            ]
            .concat(),
        );
        let mut signed_data = vec![
            tlv(0x02, &[3]),
            tlv(0x31, &sha256),
            tlv(0x30, &[tlv(0x06, OID_TST_INFO), tlv(0xa0, &tlv(0x04, &tst_info))].concat()),
        ];
        if request.cert_req {
            signed_data.push(tlv(0xa0, &self.leaf_der));
        }
        signed_data.push(tlv(0x31, &signer_info));
        let content_info =
            tlv(0x30, &[tlv(0x06, OID_SIGNED_DATA), tlv(0xa0, &tlv(0x30, &signed_data.concat()))].concat());
        let granted = tlv(0x30, &tlv(0x02, &[0]));
        tlv(0x30, &[granted, content_info].concat())
    }
}

/// Reads a DER `TimeStampReq` (RFC 3161 §2.4.1): version 1, a SHA-256 message imprint, an
/// optional policy and nonce, `certReq`.
pub fn parse_request(der_request: &[u8]) -> Result<Request, String> {
    let (outer, rest) = der::read_tlv(der_request).ok_or("not DER")?;
    if outer.tag != 0x30 || !rest.is_empty() {
        return Err("not a TimeStampReq SEQUENCE".into());
    }
    let fields = der::elements(outer.contents).ok_or("not DER")?;
    let [version, imprint, optional @ ..] = fields.as_slice() else {
        return Err("a TimeStampReq needs a version and a message imprint".into());
    };
    if version.raw != [0x02, 0x01, 0x01] {
        return Err("unsupported TimeStampReq version".into());
    }
    let parts = der::elements(imprint.contents).ok_or("a malformed message imprint")?;
    let [algorithm, hashed] = parts.as_slice() else {
        return Err("a malformed message imprint".into());
    };
    let oid = der::elements(algorithm.contents).and_then(|a| a.first().copied()).ok_or("no hash algorithm")?;
    if oid.contents != OID_SHA256 || hashed.tag != 0x04 || hashed.contents.len() != 32 {
        return Err("the message imprint must be a SHA-256 digest".into());
    }
    let mut request =
        Request { imprint: imprint.raw.to_vec(), hash: hashed.contents.to_vec(), nonce: None, cert_req: false };
    for field in optional {
        match field.tag {
            0x06 => {} // reqPolicy: this TSA has one policy
            0x02 => request.nonce = Some(field.raw.to_vec()),
            0x01 => request.cert_req = field.contents == [0xff],
            _ => return Err(format!("unexpected TimeStampReq field with tag {:#04x}", field.tag)),
        }
    }
    Ok(request)
}

/// Reads sigstore-js's JSON request: `{"artifactHash":"<b64>","hashAlgorithm":"sha256",
/// "certificates":true,"nonce":<int>}`.
pub fn parse_json_request(body: &Value) -> Result<Request, String> {
    if body["hashAlgorithm"].as_str() != Some("sha256") {
        return Err("hashAlgorithm must be sha256".into());
    }
    let hash = body["artifactHash"]
        .as_str()
        .and_then(|h| STANDARD.decode(h).ok())
        .filter(|h| h.len() == 32)
        .ok_or("artifactHash must be a base64 SHA-256 digest")?;
    let algorithm = tlv(0x30, &[tlv(0x06, OID_SHA256), vec![0x05, 0x00]].concat());
    let nonce = body["nonce"].as_u64().map(|n| tlv(0x02, &positive(&n.to_be_bytes())));
    Ok(Request {
        imprint: tlv(0x30, &[algorithm, tlv(0x04, &hash)].concat()),
        hash,
        nonce,
        cert_req: body["certificates"].as_bool().unwrap_or(false),
    })
}

/// The issuer `Name` and serial `INTEGER` of a DER certificate, byte for byte.
fn issuer_and_serial(cert: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (outer, _) = der::read_tlv(cert)?;
    let (tbs, _) = der::read_tlv(outer.contents)?;
    let fields = der::elements(tbs.contents)?;
    let offset = usize::from(fields.first()?.tag == 0xa0);
    Some((fields.get(2 + offset)?.raw.to_vec(), fields.get(offset)?.raw.to_vec()))
}

/// The minimal two's-complement contents of a non-negative big-endian integer.
fn positive(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if out.first().is_none_or(|b| *b >= 0x80) {
        out.insert(0, 0);
    }
    out
}

/// `YYYYMMDDHHMMSSZ` (DER GeneralizedTime: UTC, no fraction).
pub fn generalized_time(unix: u64) -> String {
    let at = jiff::Timestamp::from_second(unix as i64).expect("a time after 1970 and before 9999");
    at.strftime("%Y%m%d%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_is_utc_without_fraction() {
        assert_eq!(generalized_time(0), "19700101000000Z");
        assert_eq!(generalized_time(1_796_079_241), "20261130225401Z");
        assert_eq!(generalized_time(951_782_400), "20000229000000Z");
    }

    #[test]
    fn requests_in_both_forms() {
        let imprint =
            tlv(0x30, &[tlv(0x30, &[tlv(0x06, OID_SHA256), vec![5, 0]].concat()), tlv(0x04, &[9; 32])].concat());
        let der_request =
            tlv(0x30, &[tlv(0x02, &[1]), imprint.clone(), tlv(0x02, &[0x00, 0x80]), tlv(0x01, &[0xff])].concat());
        let parsed = parse_request(&der_request).unwrap();
        assert_eq!(parsed.imprint, imprint);
        assert_eq!(parsed.nonce.as_deref(), Some(&[0x02, 0x02, 0x00, 0x80][..]));
        assert!(parsed.cert_req);
        let json = serde_json::json!({"artifactHash": STANDARD.encode([9u8; 32]), "hashAlgorithm": "sha256", "certificates": true, "nonce": 128});
        assert_eq!(parse_json_request(&json).unwrap(), parsed);
        assert!(parse_request(b"\x30\x03\x02\x01\x02").is_err());
    }
}
