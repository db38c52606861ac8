//! Whether a trusted root can vouch for a signature made now: every kind of authority it
//! lists (certificate authorities, transparency logs, CT logs, timestamp authorities) has one
//! entry whose validity window (`validFor`) holds today. An out-of-date `trusted_root.json`
//! is refused before the build, rather than found out by the verify gate after signing.

use jiff::Timestamp;
use sigstore_trust_root::TrustedRoot;
use sigstore_types::TimeRange;

/// `Ok` when `root` has a current entry of every kind it lists (and at least one certificate
/// authority); otherwise which kind has none and when the last one ended.
pub(crate) fn check_current(root: &TrustedRoot, now: Timestamp) -> Result<(), String> {
    if root.certificate_authorities.is_empty() {
        return Err("it lists no certificate authority (`certificateAuthorities`)".into());
    }
    let kinds: [(&str, Vec<Option<&TimeRange>>); 4] = [
        (
            "certificate authority (`certificateAuthorities`)",
            root.certificate_authorities.iter().map(|c| c.valid_for.as_ref()).collect(),
        ),
        ("transparency log key (`tlogs`)", root.tlogs.iter().map(|t| t.public_key.valid_for.as_ref()).collect()),
        ("CT log key (`ctlogs`)", root.ctlogs.iter().map(|t| t.public_key.valid_for.as_ref()).collect()),
        (
            "timestamp authority (`timestampAuthorities`)",
            root.timestamp_authorities.iter().map(|t| t.valid_for.as_ref()).collect(),
        ),
    ];
    for (kind, windows) in kinds {
        if windows.is_empty() || windows.iter().any(|w| w.is_none_or(|w| w.contains(now))) {
            continue;
        }
        let ended = windows.iter().flatten().filter_map(|w| w.end).max();
        return Err(match ended {
            Some(end) if end < now => format!("every {kind} in it expired, the last on {end}"),
            _ => format!("no {kind} in it is valid yet"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public_good() -> serde_json::Value {
        serde_json::from_str(sigstore_trust_root::SigstoreInstance::PublicGood.embedded_trusted_root_json()).unwrap()
    }

    fn root(json: &serde_json::Value) -> TrustedRoot {
        TrustedRoot::from_json(&json.to_string()).unwrap()
    }

    #[test]
    fn the_public_good_root_is_current_and_an_expired_one_is_named() {
        let now = Timestamp::now();
        assert_eq!(check_current(&root(&public_good()), now), Ok(()));

        let mut expired = public_good();
        for ca in expired["certificateAuthorities"].as_array_mut().unwrap() {
            ca["validFor"]["end"] = "2022-04-01T00:00:00Z".into();
        }
        let err = check_current(&root(&expired), now).unwrap_err();
        assert_eq!(
            err,
            "every certificate authority (`certificateAuthorities`) in it expired, the last on 2022-04-01T00:00:00Z"
        );

        let mut no_log = public_good();
        for log in no_log["tlogs"].as_array_mut().unwrap() {
            log["publicKey"]["validFor"] = serde_json::json!({"start": "2099-01-01T00:00:00Z"});
        }
        assert!(check_current(&root(&no_log), now).unwrap_err().starts_with("no transparency log key"));

        let mut no_ca = public_good();
        no_ca["certificateAuthorities"] = serde_json::json!([]);
        assert!(check_current(&root(&no_ca), now).unwrap_err().contains("no certificate authority"));
    }
}
