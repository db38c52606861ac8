//! Rekor v1 (protocols-sigstore.md §3.1): a real RFC 6962 Merkle tree, canonical stored
//! bodies (hashedrekord with the PEM re-encoded; dsse transformed to envelope/payload
//! hashes and sorted signatures), RFC 8785 JSON, the signed entry timestamp, checkpoints
//! (C2SP signed notes with the 4-byte key hint), 201 + Location + ETag, 409 + Location for
//! a duplicate. The log sits on a shard: the entry's `logIndex` is global, the inclusion
//! proof's is shard-local. It starts with two entries of its own, so no proof is ever the
//! empty-tree corner case.

use aws_lc_rs::digest::{Digest as LcDigest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::der;

/// Entries in the log's inactive shards: global index = this + shard-local index.
pub const SHARD_OFFSET: u64 = 3_000_000;
/// The active shard's tree id.
pub const TREE_ID: u64 = 1_193_050_959_916_656_506;

/// A stored entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub uuid: String,
    /// The canonical body.
    pub body: Vec<u8>,
    pub integrated_time: u64,
    /// Shard-local index.
    pub index: u64,
    pub set: Vec<u8>,
}

impl Entry {
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a stored body is JSON")
    }
}

/// The log.
#[derive(Debug)]
pub struct Log {
    key: EcdsaKeyPair,
    pub spki: Vec<u8>,
    leaves: Vec<[u8; 32]>,
    pub entries: Vec<Entry>,
}

/// RFC 8785 canonical JSON.
pub fn canonical(value: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("canonical JSON")
}

fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

fn node_hash(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 6962 MTH over leaf hashes.
fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than n.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// RFC 6962 PATH(m, D\[n\]).
fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

impl Log {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a log key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("a log key");
        let spki = der::p256_spki(key.public_key().as_ref());
        let mut log = Log { key, spki, leaves: Vec::new(), entries: Vec::new() };
        // Two entries before any test's, so every proof has a sibling.
        for n in 0..2u8 {
            let body = canonical(&json!({"apiVersion": "0.0.1", "kind": "rekord", "spec": {"seed": n}}));
            log.append(body, super::oidc::now());
        }
        log
    }

    /// Hex SHA-256 of the log's SubjectPublicKeyInfo.
    pub fn log_id_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.spki))
    }

    pub fn origin(&self) -> String {
        format!("rekor.local - {TREE_ID}")
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(&SystemRandom::new(), data).expect("log signature").as_ref().to_vec()
    }

    fn append(&mut self, body: Vec<u8>, now: u64) -> Entry {
        let leaf = leaf_hash(&body);
        let index = self.leaves.len() as u64;
        self.leaves.push(leaf);
        let uuid = format!("{TREE_ID:016x}{}", hex::encode(leaf));
        let set_payload = canonical(&json!({
            "body": STANDARD.encode(&body),
            "integratedTime": now,
            "logID": self.log_id_hex(),
            "logIndex": SHARD_OFFSET + index,
        }));
        let set = self.sign(&set_payload);
        let entry = Entry { uuid, body, integrated_time: now, index, set };
        self.entries.push(entry.clone());
        entry
    }

    /// The entry with this leaf hash, if any.
    fn find(&self, body: &[u8]) -> Option<&Entry> {
        let leaf = leaf_hash(body);
        self.leaves.iter().position(|l| *l == leaf).map(|i| &self.entries[i])
    }

    /// A signed checkpoint for the current tree.
    pub fn checkpoint(&self) -> String {
        let note = format!("{}\n{}\n{}\n", self.origin(), self.leaves.len(), STANDARD.encode(root(&self.leaves)));
        let mut sig = Sha256::digest(&self.spki)[..4].to_vec();
        sig.extend(self.sign(note.as_bytes()));
        // The signer's name is the host alone (no spaces: verifiers split the line on them),
        // as rekor.sigstore.dev signs "rekor.sigstore.dev - <tree id>" notes.
        format!("{note}\n\u{2014} rekor.local {}\n", STANDARD.encode(sig))
    }

    /// The API form of an entry, with an inclusion proof against the current tree.
    pub fn entry_json(&self, entry: &Entry) -> Value {
        let hashes: Vec<String> = path(entry.index as usize, &self.leaves).iter().map(hex::encode).collect();
        json!({ entry.uuid.clone(): {
            "body": STANDARD.encode(&entry.body),
            "integratedTime": entry.integrated_time,
            "logID": self.log_id_hex(),
            "logIndex": SHARD_OFFSET + entry.index,
            "verification": {
                "inclusionProof": {
                    "logIndex": entry.index,
                    "rootHash": hex::encode(root(&self.leaves)),
                    "treeSize": self.leaves.len(),
                    "hashes": hashes,
                    "checkpoint": self.checkpoint(),
                },
                "signedEntryTimestamp": STANDARD.encode(&entry.set),
            },
        }})
    }

    /// `GET /api/v1/log`.
    pub fn info(&self) -> Value {
        json!({
            "rootHash": hex::encode(root(&self.leaves)),
            "treeSize": self.leaves.len(),
            "signedTreeHead": self.checkpoint(),
            "treeID": TREE_ID.to_string(),
            "inactiveShards": [],
        })
    }

    pub fn by_uuid(&self, uuid: &str) -> Option<&Entry> {
        let tail = uuid.get(uuid.len().saturating_sub(64)..)?;
        self.entries.iter().find(|e| e.uuid.ends_with(tail))
    }

    pub fn by_global_index(&self, index: u64) -> Option<&Entry> {
        index.checked_sub(SHARD_OFFSET).and_then(|i| self.entries.get(i as usize))
    }

    /// `POST /api/v1/log/entries`: Ok(new entry) or Err((status, message, existing uuid)).
    pub fn propose(&mut self, proposed: &Value, now: u64) -> Result<Entry, (u16, String, Option<String>)> {
        let body = canonicalize(proposed).map_err(|e| (400, format!("error processing entry: {e}"), None))?;
        if let Some(existing) = self.find(&body) {
            let uuid = existing.uuid.clone();
            return Err((
                409,
                format!("an equivalent entry already exists in the transparency log with UUID {uuid}"),
                Some(uuid),
            ));
        }
        Ok(self.append(body, now))
    }
}

fn b64(value: Option<&Value>, what: &str) -> Result<Vec<u8>, String> {
    let s = value.and_then(Value::as_str).ok_or(format!("{what} is missing"))?;
    STANDARD.decode(s).map_err(|e| format!("{what}: {e}"))
}

/// The verifying key of a PEM certificate or public key: (point, canonical PEM).
fn verifier(pem_bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    let text = String::from_utf8(pem_bytes.to_vec()).map_err(|_| "verifier is not PEM".to_string())?;
    let (label, der) = der::pem_blocks(&text).into_iter().next().ok_or("verifier is not PEM")?;
    let spki = match label.as_str() {
        "CERTIFICATE" => der::certificate_spki(&der).ok_or("invalid certificate")?,
        "PUBLIC KEY" => der.clone(),
        other => return Err(format!("unsupported PEM block {other}")),
    };
    let point = der::p256_point(&spki).ok_or("unsupported key type")?.to_vec();
    Ok((point, der::pem(&label, &der)))
}

/// The stored body of a proposed entry (and the signature checks Rekor makes).
fn canonicalize(proposed: &Value) -> Result<Vec<u8>, String> {
    let kind = proposed.get("kind").and_then(Value::as_str).unwrap_or_default();
    let version = proposed.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    match (kind, version) {
        ("hashedrekord", "0.0.1") => {
            let spec = &proposed["spec"];
            let algorithm = spec.pointer("/data/hash/algorithm").and_then(Value::as_str).unwrap_or_default();
            if algorithm != "sha256" {
                return Err(format!("unsupported hash algorithm {algorithm:?}"));
            }
            let digest_hex = spec.pointer("/data/hash/value").and_then(Value::as_str).unwrap_or_default();
            let digest = hex::decode(digest_hex).map_err(|e| format!("hash value: {e}"))?;
            let signature = b64(spec.pointer("/signature/content"), "signature content")?;
            let key_pem = b64(spec.pointer("/signature/publicKey/content"), "public key content")?;
            let (point, canonical_pem) = verifier(&key_pem)?;
            let digest = LcDigest::import_less_safe(&digest, &SHA256).map_err(|_| "hash value is not SHA-256")?;
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point).verify_digest(&digest, &signature).map_err(
                |_| "verifying signature: invalid signature when validating ASN.1 encoded signature".to_string(),
            )?;
            Ok(canonical(&json!({
                "apiVersion": "0.0.1", "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest_hex.to_ascii_lowercase()}},
                    "signature": {"content": STANDARD.encode(&signature), "publicKey": {"content": STANDARD.encode(canonical_pem)}},
                },
            })))
        }
        ("dsse", "0.0.1") => {
            let envelope_text = proposed
                .pointer("/spec/proposedContent/envelope")
                .and_then(Value::as_str)
                .ok_or("proposedContent.envelope is missing")?;
            let envelope: Value = serde_json::from_str(envelope_text).map_err(|e| format!("envelope: {e}"))?;
            let payload_type = envelope.get("payloadType").and_then(Value::as_str).ok_or("payloadType is missing")?;
            let payload = b64(envelope.get("payload"), "payload")?;
            let verifiers = proposed
                .pointer("/spec/proposedContent/verifiers")
                .and_then(Value::as_array)
                .ok_or("verifiers are missing")?;
            let keys =
                verifiers.iter().map(|v| verifier(&b64(Some(v), "verifier")?)).collect::<Result<Vec<_>, String>>()?;
            let mut pae = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
            pae.extend(&payload);
            let mut signatures = Vec::new();
            for sig in envelope.get("signatures").and_then(Value::as_array).ok_or("signatures are missing")? {
                let bytes = b64(sig.get("sig"), "sig")?;
                let key = keys
                    .iter()
                    .find(|(point, _)| {
                        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(&pae, &bytes).is_ok()
                    })
                    .ok_or("could not verify envelope signature")?;
                signatures.push(json!({"signature": STANDARD.encode(&bytes), "verifier": STANDARD.encode(&key.1)}));
            }
            if signatures.is_empty() {
                return Err("envelope has no signatures".into());
            }
            signatures.sort_by_key(|s| s["signature"].as_str().unwrap_or_default().to_string());
            Ok(canonical(&json!({
                "apiVersion": "0.0.1", "kind": "dsse",
                "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_text.as_bytes()))},
                    "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
                    "signatures": signatures,
                },
            })))
        }
        _ => Err(format!("unsupported entry kind {kind:?} version {version:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_path(mut index: usize, size: usize, leaf: [u8; 32], proof: &[[u8; 32]], root_hash: [u8; 32]) -> bool {
        // RFC 9162 2.1.3.2
        let mut fnode = index;
        let mut snode = size - 1;
        let mut r = leaf;
        for p in proof {
            if snode == 0 {
                return false;
            }
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        index = snode;
        index == 0 && r == root_hash
    }

    #[test]
    fn every_inclusion_proof_verifies_for_every_size() {
        let leaves: Vec<[u8; 32]> = (0..13u8).map(|i| leaf_hash(&[i])).collect();
        for n in 1..=leaves.len() {
            for m in 0..n {
                assert!(verify_path(m, n, leaves[m], &path(m, &leaves[..n]), root(&leaves[..n])), "m={m} n={n}");
            }
        }
    }
}
