//! A workflow file as a tree of YAML nodes that remember their line.
//!
//! The audit reports findings at the line of a job or of its `permissions:` key, so it
//! needs the position of mapping *keys*, which typed deserialisation does not keep. This
//! module reads any YAML document into [`Node`]s with serde-saphyr's [`Spanned`] wrapper
//! on every key and value, and offers the few look-ups the audit needs. It knows nothing
//! about GitHub Actions.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node. Scalars keep their text (numbers and booleans as they would print);
/// mappings keep their keys in file order, with the line of each key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Null,
    Scalar(String),
    Sequence(Vec<Positioned>),
    Mapping(Vec<(Key, Positioned)>),
}

/// A node and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Positioned {
    pub line: usize,
    pub node: Node,
}

/// A mapping key and the 1-based line it is written on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub line: usize,
    pub text: String,
}

/// Why a file is not YAML we can read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Parses one YAML document.
pub(crate) fn parse(text: &str) -> Result<Positioned, YamlError> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans: `on:` (the trigger key) stays the string it looks like.
    options.strict_booleans = true;
    let spanned: Spanned<Node> = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let line = err.location().map_or(1, |l| l.line() as usize).max(1);
        // The error's display may carry a source snippet; the first line is the message.
        let message = err.to_string().lines().next().unwrap_or("invalid YAML").trim().to_owned();
        YamlError { line, message }
    })?;
    Ok(positioned(spanned))
}

fn positioned(spanned: Spanned<Node>) -> Positioned {
    Positioned { line: spanned.referenced.line() as usize, node: spanned.value }
}

impl Positioned {
    /// The value of `key` in a mapping, with the key's line.
    pub(crate) fn get(&self, key: &str) -> Option<(&Key, &Positioned)> {
        match &self.node {
            Node::Mapping(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The entries of a mapping; empty for anything else.
    pub(crate) fn entries(&self) -> &[(Key, Positioned)] {
        match &self.node {
            Node::Mapping(entries) => entries,
            _ => &[],
        }
    }

    /// The items of a sequence; empty for anything else.
    pub(crate) fn items(&self) -> &[Positioned] {
        match &self.node {
            Node::Sequence(items) => items,
            _ => &[],
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.node {
            Node::Scalar(text) => Some(text),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(positioned(item));
        }
        Ok(Node::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Node>>()? {
            let text = match key.value {
                Node::Scalar(text) => text,
                Node::Null => String::new(),
                // Complex keys do not occur in workflows; keep them unmatchable.
                Node::Sequence(_) | Node::Mapping(_) => String::from("\u{0}complex-key"),
            };
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((Key { line: key.referenced.line() as usize, text }, positioned(value)));
        }
        Ok(Node::Mapping(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_keep_their_lines() {
        let text = "on:\n  push:\n    tags: [\"v*\"]\njobs:\n  build:\n    permissions:\n      contents: write\n    steps:\n      - run: release run\n";
        let doc = parse(text).unwrap();
        let (on_key, _) = doc.get("on").expect("`on` is a string key, not a boolean");
        assert_eq!(on_key.line, 1);
        let (jobs_key, jobs) = doc.get("jobs").unwrap();
        assert_eq!(jobs_key.line, 4);
        let (build_key, build) = &jobs.entries()[0];
        assert_eq!((build_key.text.as_str(), build_key.line), ("build", 5));
        let (permissions_key, permissions) = build.get("permissions").unwrap();
        assert_eq!(permissions_key.line, 6);
        assert_eq!(permissions.get("contents").unwrap().1.as_str(), Some("write"));
        let (_, steps) = build.get("steps").unwrap();
        let run = steps.items()[0].get("run").unwrap();
        assert_eq!((run.0.line, run.1.as_str()), (9, Some("release run")));
    }

    #[test]
    fn flow_mappings_and_scalars_of_every_kind() {
        let doc = parse("a: {}\nb: read-all\nc: 3\nd: true\ne:\n").unwrap();
        assert_eq!(doc.get("a").unwrap().1.node, Node::Mapping(vec![]));
        assert_eq!(doc.get("b").unwrap().1.as_str(), Some("read-all"));
        assert_eq!(doc.get("c").unwrap().1.as_str(), Some("3"));
        assert_eq!(doc.get("d").unwrap().1.as_str(), Some("true"));
        assert_eq!(doc.get("e").unwrap().1.node, Node::Null);
    }

    #[test]
    fn syntax_errors_name_a_line() {
        let err = parse("jobs:\n  a:\n    steps: [\n").unwrap_err();
        assert!(err.line >= 3, "{err}");
    }
}
