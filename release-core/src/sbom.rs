//! A CycloneDX 1.6 JSON SBOM for the binaries of one archive, made natively from cargo's
//! resolved graph for the archive's target (`cargo metadata --format-version 1
//! --filter-platform TARGET`).
//!
//! What it lists: every crate linked into the binaries — the package itself and what its
//! normal dependencies reach, transitively (see [`crate::cargo::linked_packages`]). Build
//! dependencies, dev dependencies and proc-macro crates run at build time and are not part
//! of the shipped binary, so they are left out. Each component has its name, version,
//! `pkg:cargo/NAME@VERSION` purl, licence expression (as the crate states it; the old
//! `MIT/Apache-2.0` form is written `MIT OR Apache-2.0`) and, for registry crates, the
//! SHA-256 that `Cargo.lock` records. Deterministic: no serial number, and a timestamp only
//! from `SOURCE_DATE_EPOCH`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::cargo::{Metadata, Package, linked_packages};

/// The SBOM's file name beside its archive.
pub(crate) fn sbom_name(archive_file: &str) -> String {
    format!("{archive_file}.cdx.json")
}

/// `pkg:cargo/NAME@VERSION`.
pub(crate) fn purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{}", version.replace('+', "%2B"))
}

/// The SBOM of `root_id`'s binaries. `checksums` are `Cargo.lock`'s; `source_date_epoch`
/// sets the timestamp.
pub(crate) fn sbom(
    metadata: &Metadata,
    root_id: &str,
    checksums: &BTreeMap<(String, String), String>,
    source_date_epoch: Option<u64>,
) -> Value {
    let linked = linked_packages(metadata, root_id);
    let ids: BTreeSet<&str> = linked.iter().map(|p| p.id.as_str()).collect();
    // bom-refs: the purl, unless two packages share it (the same crate from two sources).
    let mut purls: BTreeMap<String, usize> = BTreeMap::new();
    for package in &linked {
        *purls.entry(purl(&package.name, &package.version)).or_default() += 1;
    }
    let bom_ref = |p: &Package| {
        let purl = purl(&p.name, &p.version);
        if purls.get(&purl).copied().unwrap_or(0) > 1 { format!("{purl}#{}", p.id) } else { purl }
    };
    let component = |p: &Package, kind: &str| {
        let mut c = json!({
            "type": kind,
            "bom-ref": bom_ref(p),
            "name": p.name,
            "version": p.version,
            "purl": purl(&p.name, &p.version),
        });
        if let Some(description) = p.description.as_deref().filter(|d| !d.trim().is_empty()) {
            c["description"] = json!(description.trim());
        }
        if let Some(license) = p.license.as_deref().filter(|l| !l.trim().is_empty()) {
            c["licenses"] = json!([{ "expression": license_expression(license) }]);
        }
        if let Some(sum) = checksums.get(&(p.name.clone(), p.version.clone())) {
            c["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
        }
        c
    };
    let root = linked.iter().find(|p| p.id == root_id);
    let mut metadata_value = json!({
        "tools": { "components": [{
            "type": "application",
            "name": "release",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
    });
    if let Some(epoch) = source_date_epoch {
        metadata_value["timestamp"] = json!(crate::date::rfc3339_utc(epoch));
    }
    if let Some(root) = root {
        metadata_value["component"] = component(root, "application");
    }
    let components: Vec<Value> = linked.iter().filter(|p| p.id != root_id).map(|p| component(p, "library")).collect();
    let packages: BTreeMap<&str, &Package> = metadata.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let dependencies: Vec<Value> = linked
        .iter()
        .map(|p| {
            let node = metadata.resolve.as_ref().and_then(|r| r.nodes.iter().find(|n| n.id == p.id));
            let mut on: Vec<String> = node
                .into_iter()
                .flat_map(|n| &n.deps)
                .filter(|d| ids.contains(d.pkg.as_str()))
                .filter(|d| d.dep_kinds.is_empty() || d.dep_kinds.iter().any(|k| k.kind.is_none()))
                .filter_map(|d| packages.get(d.pkg.as_str()).map(|p| bom_ref(p)))
                .collect();
            on.sort();
            on.dedup();
            json!({ "ref": bom_ref(p), "dependsOn": on })
        })
        .collect();
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata_value,
        "components": components,
        "dependencies": dependencies,
    })
}

/// A crate's `license` as an SPDX expression: `/` (the old separator) is `OR`.
pub(crate) fn license_expression(license: &str) -> String {
    license.split('/').map(str::trim).collect::<Vec<_>>().join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_purls_licences_hashes_and_the_graph() {
        let metadata = crate::cargo::parse_metadata(
            r#"{"packages": [
              {"name": "app", "version": "1.0.0", "id": "app-id", "manifest_path": "/w/Cargo.toml", "license": "MIT/Apache-2.0", "targets": [{"name": "app", "kind": ["bin"]}]},
              {"name": "itoa", "version": "1.0.18", "id": "itoa-id", "manifest_path": "/r/Cargo.toml", "license": "MIT OR Apache-2.0", "targets": [{"name": "itoa", "kind": ["lib"]}]},
              {"name": "cc", "version": "1.0.0", "id": "cc-id", "manifest_path": "/r/cc/Cargo.toml", "targets": [{"name": "cc", "kind": ["lib"]}]}
            ],
            "workspace_members": ["app-id"], "workspace_root": "/w",
            "resolve": {"nodes": [
              {"id": "app-id", "deps": [{"pkg": "itoa-id", "dep_kinds": [{"kind": null}]}, {"pkg": "cc-id", "dep_kinds": [{"kind": "build"}]}]},
              {"id": "itoa-id", "deps": []}, {"id": "cc-id", "deps": []}]}}"#,
        )
        .unwrap();
        let sums = BTreeMap::from([(("itoa".to_owned(), "1.0.18".to_owned()), "ab".repeat(32))]);
        let bom = sbom(&metadata, "app-id", &sums, Some(1_700_000_000));
        assert_eq!(bom["specVersion"], "1.6");
        assert_eq!(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(bom["metadata"]["component"]["purl"], "pkg:cargo/app@1.0.0");
        assert_eq!(bom["metadata"]["component"]["licenses"][0]["expression"], "MIT OR Apache-2.0");
        let components = bom["components"].as_array().unwrap();
        assert_eq!(components.len(), 1, "the build dependency is not in the binary: {components:?}");
        assert_eq!(components[0]["purl"], "pkg:cargo/itoa@1.0.18");
        assert_eq!(components[0]["hashes"][0]["content"], "ab".repeat(32));
        assert_eq!(
            bom["dependencies"][0],
            json!({"ref": "pkg:cargo/app@1.0.0", "dependsOn": ["pkg:cargo/itoa@1.0.18"]})
        );
        assert!(sbom(&metadata, "app-id", &sums, None)["metadata"].get("timestamp").is_none());
    }
}
