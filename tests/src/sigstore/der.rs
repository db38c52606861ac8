//! The little DER and PEM the test Sigstore servers need: read one TLV, wrap PEM at 64
//! columns with LF (the canonical form Rekor stores), and the P-256 key helpers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One DER element: its tag, the whole encoding, and the contents.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub raw: &'a [u8],
    pub contents: &'a [u8],
}

/// Reads the first element of `input`; returns it and the rest.
pub fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if input.len() < end {
        return None;
    }
    Some((Tlv { tag, raw: &input[..end], contents: &input[header..end] }, &input[end..]))
}

/// The elements of a SEQUENCE's contents.
pub fn elements(mut contents: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tlv, rest) = read_tlv(contents)?;
        out.push(tlv);
        contents = rest;
    }
    Some(out)
}

/// A DER length.
pub fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else if len < 0x100 {
        vec![0x81, len as u8]
    } else if len < 0x10000 {
        vec![0x82, (len >> 8) as u8, len as u8]
    } else {
        vec![0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]
    }
}

/// A DER element from a tag and contents.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(contents.len()));
    out.extend_from_slice(contents);
    out
}

/// PEM with LF line ends and 64 columns, ending in a newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Every PEM block in `text`: (label, DER). CRLF and LF alike.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut label: Option<String> = None;
    let mut body = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            label = Some(rest.trim_end_matches('-').to_string());
            body.clear();
        } else if line.starts_with("-----END ") {
            if let Some(l) = label.take()
                && let Ok(der) = STANDARD.decode(body.as_bytes())
            {
                out.push((l, der));
            }
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    out
}

/// The DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, bit string).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The uncompressed point of a P-256 SubjectPublicKeyInfo, or None for any other key.
pub fn p256_point(spki: &[u8]) -> Option<&[u8]> {
    (spki.len() == 91 && spki[..26] == P256_SPKI_PREFIX && spki[26] == 0x04).then(|| &spki[26..])
}

/// The SubjectPublicKeyInfo of a P-256 point.
pub fn p256_spki(point: &[u8]) -> Vec<u8> {
    let mut out = P256_SPKI_PREFIX.to_vec();
    out.extend_from_slice(point);
    out
}

/// The SubjectPublicKeyInfo inside a DER certificate.
pub fn certificate_spki(cert: &[u8]) -> Option<Vec<u8>> {
    let (outer, _) = read_tlv(cert)?;
    let parts = elements(outer.contents)?;
    let tbs = elements(parts.first()?.contents)?;
    // [0] version, serial, signature, issuer, validity, subject, spki
    let offset = usize::from(tbs.first()?.tag == 0xa0);
    Some(tbs.get(5 + offset)?.raw.to_vec())
}

/// The TBSCertificate of a DER certificate, byte for byte.
pub fn certificate_tbs(cert: &[u8]) -> Option<Vec<u8>> {
    let (outer, _) = read_tlv(cert)?;
    let (tbs, _) = read_tlv(outer.contents)?;
    Some(tbs.raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_round_trip_long_form() {
        let body = vec![7u8; 300];
        let enc = tlv(0x04, &body);
        let (t, rest) = read_tlv(&enc).unwrap();
        assert_eq!(t.tag, 0x04);
        assert_eq!(t.contents, &body[..]);
        assert!(rest.is_empty());
    }

    #[test]
    fn pem_wraps_at_64_and_reads_back() {
        let der = vec![1u8; 100];
        let text = pem("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(pem_blocks(&text.replace('\n', "\r\n")), vec![("CERTIFICATE".to_string(), der)]);
    }
}
