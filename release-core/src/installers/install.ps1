# Installs @APP_NAME@ @APP_VERSION@ on Windows: downloads the archive for this machine from the
# release, checks its SHA-256 against the digest written here when the release was made (and
# its provenance with `gh attestation verify` when gh is installed), then installs the binaries.
# Written by the release tool; see docs/installers.md.
#
#   $env:@ENV@_INSTALL_DIR   where the binaries go (default: %LOCALAPPDATA%\Programs\@APP_NAME@\bin)
#   $env:@ENV@_DOWNLOAD_URL  where the archives are (default: this release's download URL)
#
# Everything is in one function, called on the last line, so a download cut short runs nothing.

function Install-ReleaseArchive {
    $ErrorActionPreference = 'Stop'
    $AppName = '@APP_NAME@'
    $AppVersion = '@APP_VERSION@'
    $ProvenanceRepo = '@PROVENANCE_REPO@'
    $ProvenanceWorkflow = '@PROVENANCE_WORKFLOW@'
    $ProvenanceRef = '@PROVENANCE_REF@'
    # Target, file, SHA-256, directory inside, binaries (comma-separated).
    $Archives = @(
@PS_ARCHIVES@
    )

    function Say([string]$Message) { [Console]::Error.WriteLine("$AppName installer: $Message") }
    function Fail([string]$Message) {
        Say "error: $Message"
        Say 'nothing was installed'
        throw "$AppName installer: $Message"
    }

    $Base = $env:@ENV@_DOWNLOAD_URL
    if (-not $Base) { $Base = '@DOWNLOAD_URL@' }
    if (-not ($Base.StartsWith('https://') -or $Base -match '^http://(127\.0\.0\.1|localhost|\[::1\])[:/]')) {
        Fail "refusing to download from ${Base}: only https (or a loopback http mirror) is used"
    }

    $Arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString()
    switch ($Arch) {
        'X64' { $Candidates = @('x86_64-pc-windows-msvc', 'x86_64-pc-windows-gnu') }
        'Arm64' { $Candidates = @('aarch64-pc-windows-msvc', 'x86_64-pc-windows-msvc') }
        'X86' { $Candidates = @('i686-pc-windows-msvc', 'i686-pc-windows-gnu') }
        default { $Candidates = @() }
    }
    $Chosen = $null
    foreach ($Candidate in $Candidates) {
        if ($Archives | Where-Object { $_.Target -eq $Candidate }) { $Chosen = $Candidate; break }
    }
    if (-not $Chosen) {
        $Offered = ($Archives | ForEach-Object { $_.Target }) -join ' '
        Fail "$AppName $AppVersion has no archive for this machine (Windows $Arch); it has: $Offered"
    }
    if (-not (Get-Command Get-FileHash -ErrorAction SilentlyContinue)) {
        Fail 'Get-FileHash is not available (PowerShell 4 or later is needed): the download cannot be verified, so it is not made'
    }

    $Dir = $env:@ENV@_INSTALL_DIR
    if (-not $Dir) { $Dir = Join-Path $env:LOCALAPPDATA "Programs\$AppName\bin" }
    $Tmp = Join-Path ([System.IO.Path]::GetTempPath()) ("$AppName-installer-" + [System.Guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Tmp | Out-Null
    try {
        Say "installing $AppName $AppVersion for $Chosen into $Dir"
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        $Mine = @($Archives | Where-Object { $_.Target -eq $Chosen })
        # Everything is downloaded, checked and unpacked before anything is installed.
        foreach ($Archive in $Mine) {
            $File = Join-Path $Tmp $Archive.File
            try {
                Invoke-WebRequest -UseBasicParsing -Uri "$Base/$($Archive.File)" -OutFile $File
            } catch {
                Fail "the download of $Base/$($Archive.File) failed: $($_.Exception.Message)"
            }
            $Got = (Get-FileHash -Algorithm SHA256 -Path $File).Hash.ToLowerInvariant()
            if ($Got -ne $Archive.Sha256) {
                Fail "the SHA-256 of $($Archive.File) is $Got, not $($Archive.Sha256) as this installer says: the download is not the released file"
            }
            Say "verified $($Archive.File) (sha256 $Got)"
            if ($ProvenanceRepo) {
                if (Get-Command gh -ErrorAction SilentlyContinue) {
                    $GhArgs = @('attestation', 'verify', $File, '--repo', $ProvenanceRepo)
                    if ($ProvenanceWorkflow) { $GhArgs += @('--signer-workflow', $ProvenanceWorkflow) }
                    if ($ProvenanceRef) { $GhArgs += @('--source-ref', $ProvenanceRef) }
                    $GhOutput = & gh @GhArgs 2>&1
                    if ($LASTEXITCODE -eq 4) {
                        Say 'provenance not checked: gh is not logged in (run `gh auth login` or set GH_TOKEN to check it)'
                    } elseif ($LASTEXITCODE -ne 0) {
                        [Console]::Error.WriteLine(($GhOutput | Out-String))
                        Fail "gh attestation verify refused $($Archive.File) (exit $LASTEXITCODE): it was not built by $ProvenanceRepo's release workflow"
                    } else {
                        Say "provenance verified: built by $ProvenanceRepo"
                    }
                } else {
                    Say 'provenance not checked: gh is not installed (the SHA-256 written into this installer was)'
                }
            }
            Expand-Archive -Path $File -DestinationPath (Join-Path $Tmp 'unpacked') -Force
            foreach ($Bin in $Archive.Bins) {
                if (-not (Test-Path (Join-Path $Tmp "unpacked\$($Archive.Dir)\$Bin"))) {
                    Fail "$($Archive.File) does not hold $($Archive.Dir)\$Bin"
                }
            }
        }
        New-Item -ItemType Directory -Force -Path $Dir | Out-Null
        foreach ($Archive in $Mine) {
            foreach ($Bin in $Archive.Bins) {
                $New = Join-Path $Tmp "unpacked\$($Archive.Dir)\$Bin"
                $Target = Join-Path $Dir $Bin
                if ((Test-Path $Target) -and ((Get-FileHash -Algorithm SHA256 $Target).Hash -eq (Get-FileHash -Algorithm SHA256 $New).Hash)) {
                    Say "$Target is already this version"
                    continue
                }
                # Copied beside its place, then moved over it: a binary is never half written.
                Copy-Item -Path $New -Destination "$Target.installing" -Force
                Move-Item -Path "$Target.installing" -Destination $Target -Force
                Say "installed $Target"
            }
        }
        $OnPath = ($env:Path -split ';') -contains $Dir
        if (-not $OnPath) {
            if ($env:GITHUB_PATH) {
                Add-Content -Path $env:GITHUB_PATH -Value $Dir
                Say "added $Dir to GITHUB_PATH for the next steps of this job"
            } else {
                Say "$Dir is not on PATH; add it: [Environment]::SetEnvironmentVariable('Path', `"$Dir;`" + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')"
            }
        }
    } finally {
        Remove-Item -Recurse -Force -Path $Tmp -ErrorAction SilentlyContinue
    }
}

Install-ReleaseArchive
