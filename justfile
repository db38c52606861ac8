# Thin aliases for the common commands; each is a single command you can also type.

# The main job: a snapshot release of the bundled example.
example:
    cargo run -p release-cli -- --config examples/hello/release.toml run --snapshot

# Every test (installs the test services with apt-get when missing).
test:
    bash .ci/run

# The lints CI runs (.ci/run) before the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Release this repository with its own tool.
release *ARGS:
    cargo xtask release {{ARGS}}

# Benchmarks against peer tools.
bench:
    cargo xtask bench
