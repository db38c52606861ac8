#!/bin/sh
# Installs @APP_NAME@ @APP_VERSION@: downloads the archive for this machine from the release,
# checks its SHA-256 against the digest written here when the release was made (and its
# provenance with `gh attestation verify` when gh is installed), then installs the binaries.
# Written by the release tool; see docs/installers.md.
#
#   @ENV@_INSTALL_DIR   where the binaries go (default: $XDG_BIN_HOME, else ~/.local/bin)
#   @ENV@_DOWNLOAD_URL  where the archives are (default: this release's download URL)
#
# Everything is in functions and runs from the last line, so a download cut short runs nothing.
# POSIX sh has no local variables: each function's names are its own (no two share one).
set -u

APP_NAME='@APP_NAME@'
APP_VERSION='@APP_VERSION@'
DEFAULT_DOWNLOAD_URL='@DOWNLOAD_URL@'
# owner/name of the repository whose release workflow signed the provenance ('' if none).
PROVENANCE_REPO='@PROVENANCE_REPO@'
PROVENANCE_WORKFLOW='@PROVENANCE_WORKFLOW@'
PROVENANCE_REF='@PROVENANCE_REF@'
# One line per archive: target, file, SHA-256, directory inside, binaries (comma-separated).
ARCHIVES='
@ARCHIVES@'

say() {
    printf '%s\n' "$APP_NAME installer: $*" >&2
}

fail() {
    say "error: $*"
    say "nothing was installed"
    exit 1
}

has() {
    command -v "$1" >/dev/null 2>&1
}

need() {
    for tool in "$@"; do
        has "$tool" || fail "this installer needs \`$tool\`, which is not on PATH"
    done
}

# The Rust targets this machine can run, best first.
candidates() {
    os=$(uname -s 2>/dev/null) || fail "cannot run uname"
    arch=$(uname -m 2>/dev/null) || fail "cannot run uname"
    case "$arch" in
        x86_64 | amd64 | x64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        i386 | i486 | i586 | i686) arch=i686 ;;
        armv7*) arch=armv7 ;;
        riscv64) arch=riscv64gc ;;
    esac
    case "$os" in
        Linux)
            case "$arch" in
                armv7) gnu=armv7-unknown-linux-gnueabihf musl=armv7-unknown-linux-musleabihf ;;
                *) gnu="$arch-unknown-linux-gnu" musl="$arch-unknown-linux-musl" ;;
            esac
            # A static musl build runs on a glibc system too; a glibc build needs glibc.
            if is_musl; then
                echo "$musl"
            else
                echo "$gnu $musl"
            fi
            ;;
        Darwin)
            # A shell translated by Rosetta reports x86_64 on Apple silicon.
            if [ "$arch" = x86_64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
                arch=aarch64
            fi
            echo "$arch-apple-darwin"
            ;;
        MINGW* | MSYS* | CYGWIN* | Windows_NT)
            echo "$arch-pc-windows-msvc $arch-pc-windows-gnu"
            ;;
        *)
            echo "$arch-unknown-$(echo "$os" | tr '[:upper:]' '[:lower:]')"
            ;;
    esac
}

is_musl() {
    if has ldd && ldd --version 2>&1 | grep -qi musl; then
        return 0
    fi
    for loader in /lib/ld-musl-*; do
        [ -e "$loader" ] && return 0
    done
    return 1
}

# The archive lines for a target.
archives_for() {
    printf '%s\n' "$ARCHIVES" | while read -r target file sha dir bins; do
        [ "$target" = "$1" ] && printf '%s %s %s %s\n' "$file" "$sha" "$dir" "$bins"
    done
}

offered() {
    printf '%s\n' "$ARCHIVES" | while read -r target rest; do
        [ -n "$target" ] && printf '%s ' "$target"
    done
}

sha256_of() {
    if has sha256sum; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif has shasum; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    elif has openssl; then
        openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
    else
        return 1
    fi
}

download() {
    url=$1
    out=$2
    case "$url" in
        https://*) ;;
        http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) ;;
        *) fail "refusing to download $url: only https (or a loopback http mirror) is used" ;;
    esac
    if has curl; then
        case "$url" in
            https://*) curl --proto '=https' --tlsv1.2 -fsSL -o "$out" "$url" ;;
            *) curl -fsSL -o "$out" "$url" ;;
        esac
    elif has wget; then
        wget -q -O "$out" "$url"
    else
        fail "this installer needs curl or wget to download, and neither is on PATH"
    fi
}

# `gh attestation verify` when gh is installed and the release has provenance: a failed check
# stops the install; gh without a login is reported and the digest check stands alone.
check_provenance() {
    [ -n "$PROVENANCE_REPO" ] || return 0
    if ! has gh; then
        say "provenance not checked: gh is not installed (the SHA-256 written into this installer was)"
        return 0
    fi
    checked=$1
    set -- attestation verify "$checked" --repo "$PROVENANCE_REPO"
    [ -n "$PROVENANCE_WORKFLOW" ] && set -- "$@" --signer-workflow "$PROVENANCE_WORKFLOW"
    [ -n "$PROVENANCE_REF" ] && set -- "$@" --source-ref "$PROVENANCE_REF"
    log="$tmp/gh.log"
    status=0
    gh "$@" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
        say "provenance verified: built by $PROVENANCE_REPO${PROVENANCE_WORKFLOW:+ ($PROVENANCE_WORKFLOW)}"
        return 0
    fi
    if [ "$status" -eq 4 ]; then
        say "provenance not checked: gh is not logged in (run \`gh auth login\` or set GH_TOKEN to check it)"
        return 0
    fi
    cat "$log" >&2
    fail "gh attestation verify refused ${checked##*/} (exit $status): it was not built by $PROVENANCE_REPO's release workflow"
}

install_dir() {
    forced=${@ENV@_INSTALL_DIR:-}
    if [ -n "$forced" ]; then
        echo "$forced"
    elif [ -n "${XDG_BIN_HOME:-}" ]; then
        echo "$XDG_BIN_HOME"
    elif [ -n "${HOME:-}" ]; then
        echo "$HOME/.local/bin"
    else
        fail "neither HOME nor @ENV@_INSTALL_DIR is set: say where to install with @ENV@_INSTALL_DIR"
    fi
}

main() {
    need uname mkdir rm cp mv chmod mktemp cut tr grep
    base=${@ENV@_DOWNLOAD_URL:-$DEFAULT_DOWNLOAD_URL}
    chosen=
    for target in $(candidates); do
        if [ -n "$(archives_for "$target")" ]; then
            chosen=$target
            break
        fi
    done
    if [ -z "$chosen" ]; then
        machine="$(uname -s) $(uname -m)"
        [ "$(uname -s)" = Linux ] && { is_musl && machine="$machine, musl" || machine="$machine, glibc"; }
        fail "$APP_NAME $APP_VERSION has no archive for this machine ($machine); it has: $(offered)"
    fi
    sha256_of /dev/null >/dev/null 2>&1 \
        || fail "no SHA-256 tool found (sha256sum, shasum or openssl): the download cannot be verified, so it is not made; install coreutils and run again"
    dir=$(install_dir)
    tmp=$(mktemp -d 2>/dev/null || mktemp -d -t "$APP_NAME-installer") || fail "cannot make a temporary directory"
    trap 'rm -rf "$tmp"' EXIT
    trap 'rm -rf "$tmp"; exit 130' INT TERM
    say "installing $APP_NAME $APP_VERSION for $chosen into $dir"

    # Everything is downloaded, checked and unpacked before anything is installed.
    archives_for "$chosen" >"$tmp/chosen"
    while read -r file sha inner bins; do
        download "$base/$file" "$tmp/$file" || fail "the download of $base/$file failed"
        got=$(sha256_of "$tmp/$file") || fail "cannot compute the SHA-256 of $file"
        [ "$got" = "$sha" ] || fail "the SHA-256 of $file is $got, not $sha as this installer says: the download is not the released file"
        say "verified $file (sha256 $sha)"
        check_provenance "$tmp/$file"
        mkdir -p "$tmp/unpacked" || fail "cannot unpack into $tmp"
        case "$file" in
            *.zip) need unzip; unzip -q -o "$tmp/$file" -d "$tmp/unpacked" || fail "cannot unpack $file" ;;
            *) need tar; tar -xzf "$tmp/$file" -C "$tmp/unpacked" || fail "cannot unpack $file" ;;
        esac
        for bin in $(echo "$bins" | tr ',' ' '); do
            [ -f "$tmp/unpacked/$inner/$bin" ] || fail "$file does not hold $inner/$bin"
        done
    done <"$tmp/chosen"

    mkdir -p "$dir" || fail "cannot create $dir: choose another directory with @ENV@_INSTALL_DIR"
    while read -r file sha inner bins; do
        for bin in $(echo "$bins" | tr ',' ' '); do
            new="$tmp/unpacked/$inner/$bin"
            if [ -f "$dir/$bin" ] && [ "$(sha256_of "$dir/$bin")" = "$(sha256_of "$new")" ]; then
                say "$dir/$bin is already this version"
                continue
            fi
            # Copied beside its place, then renamed over it: a binary is never half written.
            cp "$new" "$dir/.$bin.installing" && chmod 755 "$dir/.$bin.installing" \
                && mv -f "$dir/.$bin.installing" "$dir/$bin" \
                || { rm -f "$dir/.$bin.installing"; fail "cannot write $dir/$bin"; }
            say "installed $dir/$bin"
        done
    done <"$tmp/chosen"

    case ":${PATH:-}:" in
        *":$dir:"*) ;;
        *)
            if [ -n "${GITHUB_PATH:-}" ]; then
                echo "$dir" >>"$GITHUB_PATH"
                say "added $dir to GITHUB_PATH for the next steps of this job"
            else
                say "$dir is not on PATH; add it, e.g. in ~/.profile: export PATH=\"$dir:\$PATH\""
            fi
            ;;
    esac
}

main "$@"
