//! Preflight steps.

pub mod github_tag_rules;
