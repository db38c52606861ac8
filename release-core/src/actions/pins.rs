//! The actions a generated workflow uses, each pinned to a full commit SHA with its version in
//! a comment (the form Dependabot, Renovate and pinact keep current, and zizmor's
//! `unpinned-uses` asks for). Each SHA is the commit the release tag peels to in the action's
//! own repository (`git rev-parse TAG^{commit}`), checked when the pin was last moved.

/// One pinned action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pin {
    /// `owner/name`.
    pub(crate) action: &'static str,
    /// The 40-hex commit.
    pub(crate) sha: &'static str,
    /// The release tag that commit is.
    pub(crate) version: &'static str,
}

impl Pin {
    /// `owner/name@SHA # vX.Y.Z`, as a `uses:` value.
    pub(crate) fn uses(&self) -> String {
        format!("{}@{} # {}", self.action, self.sha, self.version)
    }
}

/// actions/checkout v7.0.1 (2026-07-17).
pub(crate) const CHECKOUT: Pin =
    Pin { action: "actions/checkout", sha: "3d3c42e5aac5ba805825da76410c181273ba90b1", version: "v7.0.1" };
/// actions/upload-artifact v7.0.0 (2026-02-25).
pub(crate) const UPLOAD_ARTIFACT: Pin =
    Pin { action: "actions/upload-artifact", sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", version: "v7.0.0" };
/// actions/download-artifact v8.0.1 (2026-03-11): a digest mismatch is an error by default.
pub(crate) const DOWNLOAD_ARTIFACT: Pin =
    Pin { action: "actions/download-artifact", sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", version: "v8.0.1" };

/// Every action a generated workflow may use.
pub(crate) const ALL: [Pin; 3] = [CHECKOUT, UPLOAD_ARTIFACT, DOWNLOAD_ARTIFACT];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_full_sha_with_a_version() {
        for pin in ALL {
            assert!(pin.sha.len() == 40 && pin.sha.bytes().all(|b| b.is_ascii_hexdigit()), "{pin:?}");
            assert!(pin.version.starts_with('v') && pin.version.matches('.').count() == 2, "{pin:?}");
        }
        assert_eq!(CHECKOUT.uses(), "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1");
    }
}
