//! The `.tar.gz` writer: GNU tar headers (sizes past 8 GiB and long names work), gzip with a
//! fixed header, compressed on every core ([`super::pargz`]) at [`super::GZIP_LEVEL`].

use std::io::{Read, Write};

use camino::Utf8Path;

use super::pargz::ParallelGz;
use super::{ArchiveError, Counting, DIR_MODE, Entry, GZIP_LEVEL, check_ended, open};

pub(super) fn write<W: Write>(
    out: W,
    dir: &str,
    entries: &[Entry],
    mtime: u64,
    shown: &Utf8Path,
) -> Result<W, ArchiveError> {
    let io_err = |source| ArchiveError::Write { path: shown.to_owned(), source };
    let gzip = ParallelGz::new(out, GZIP_LEVEL, ParallelGz::<W>::cores());
    let mut tar = tar::Builder::new(gzip);
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(size);
        header
    };
    let mut dir_header = header(tar::EntryType::Directory, DIR_MODE, 0);
    tar.append_data(&mut dir_header, format!("{dir}/"), std::io::empty()).map_err(io_err)?;
    for entry in entries {
        let (mut file, size) = open(entry)?;
        let mut file_header = header(tar::EntryType::Regular, entry.mode, size);
        // Exactly the size the header states, then the end of the file.
        let mut counted = Counting { inner: (&mut file).take(size), count: 0 };
        tar.append_data(&mut file_header, format!("{dir}/{}", entry.name), &mut counted).map_err(io_err)?;
        let copied = counted.count;
        check_ended(&mut file, entry, size, copied)?;
    }
    let gzip = tar.into_inner().map_err(io_err)?;
    gzip.finish().map_err(io_err)
}
