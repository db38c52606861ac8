//! The `.zip` writer, ours: deflated entries streamed with a data descriptor (sizes and CRC
//! after the data, so nothing is seeked back), Unix modes in the external attributes, UTF-8
//! names, one fixed DOS time. No zip64: a file or archive past 4 GiB is refused.

use std::io::{Read, Write};

use camino::Utf8Path;
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::{ArchiveError, Counting, DIR_MODE, Entry, check_ended, open};

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// Version 2.0: deflate and directories.
const VERSION: u16 = 20;
/// Made by: Unix (3), version 2.0; the external attributes then hold the Unix mode.
const MADE_BY: u16 = (3 << 8) | VERSION;
/// UTF-8 names.
const FLAG_UTF8: u16 = 0x0800;
/// Sizes and CRC in a data descriptor after the data.
const FLAG_DESCRIPTOR: u16 = 0x0008;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
/// The MS-DOS directory attribute.
const DOS_DIR: u32 = 0x10;

struct Central {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    external: u32,
    offset: u32,
}

pub(super) fn write<W: Write>(
    out: W,
    dir: &str,
    entries: &[Entry],
    mtime: u64,
    shown: &Utf8Path,
) -> Result<W, ArchiveError> {
    let io_err = |source| ArchiveError::Write { path: shown.to_owned(), source };
    let too_large = |size: u64| ArchiveError::TooLarge { path: shown.to_owned(), size };
    let small = |n: u64| u32::try_from(n).ok().filter(|n| *n != u32::MAX);
    let (time, date) = dos_time(mtime);
    let mut out = Counting { inner: out, count: 0 };
    let mut central = Vec::new();

    // The directory: stored, empty, sizes known.
    let dir_name = format!("{dir}/");
    let offset = small(out.count).ok_or_else(|| too_large(out.count))?;
    local_header(&mut out, &dir_name, FLAG_UTF8, STORED, time, date).map_err(io_err)?;
    central.push(Central {
        name: dir_name,
        flags: FLAG_UTF8,
        method: STORED,
        crc: 0,
        compressed: 0,
        size: 0,
        external: ((S_IFDIR | DIR_MODE) << 16) | DOS_DIR,
        offset,
    });

    let mut buf = vec![0u8; 1 << 20];
    for entry in entries {
        let (mut file, size) = open(entry)?;
        let name = format!("{dir}/{}", entry.name);
        let offset = small(out.count).ok_or_else(|| too_large(out.count))?;
        let size32 = small(size).ok_or(ArchiveError::TooLarge { path: entry.source.clone(), size })?;
        let flags = FLAG_UTF8 | FLAG_DESCRIPTOR;
        local_header(&mut out, &name, flags, DEFLATED, time, date).map_err(io_err)?;
        let start = out.count;
        let mut crc = flate2::Crc::new();
        let mut encoder = DeflateEncoder::new(&mut out, Compression::default());
        let mut source = Counting { inner: (&mut file).take(size), count: 0 };
        loop {
            let n = source.read(&mut buf).map_err(|e| ArchiveError::Read { path: entry.source.clone(), source: e })?;
            if n == 0 {
                break;
            }
            crc.update(&buf[..n]);
            encoder.write_all(&buf[..n]).map_err(io_err)?;
        }
        encoder.finish().map_err(io_err)?;
        let copied = source.count;
        check_ended(&mut file, entry, size, copied)?;
        let compressed = out.count - start;
        let compressed32 = small(compressed).ok_or_else(|| too_large(compressed))?;
        let mut descriptor = Vec::with_capacity(16);
        descriptor.extend(DESCRIPTOR.to_le_bytes());
        descriptor.extend(crc.sum().to_le_bytes());
        descriptor.extend(compressed32.to_le_bytes());
        descriptor.extend(size32.to_le_bytes());
        out.write_all(&descriptor).map_err(io_err)?;
        central.push(Central {
            name,
            flags,
            method: DEFLATED,
            crc: crc.sum(),
            compressed: compressed32,
            size: size32,
            external: (S_IFREG | entry.mode) << 16,
            offset,
        });
    }

    let directory_start = out.count;
    let start32 = small(directory_start).ok_or_else(|| too_large(directory_start))?;
    for c in &central {
        let mut h = Vec::with_capacity(46 + c.name.len());
        h.extend(CENTRAL.to_le_bytes());
        h.extend(MADE_BY.to_le_bytes());
        h.extend(VERSION.to_le_bytes());
        h.extend(c.flags.to_le_bytes());
        h.extend(c.method.to_le_bytes());
        h.extend(time.to_le_bytes());
        h.extend(date.to_le_bytes());
        h.extend(c.crc.to_le_bytes());
        h.extend(c.compressed.to_le_bytes());
        h.extend(c.size.to_le_bytes());
        h.extend((c.name.len() as u16).to_le_bytes());
        h.extend(0u16.to_le_bytes()); // extra
        h.extend(0u16.to_le_bytes()); // comment
        h.extend(0u16.to_le_bytes()); // disk
        h.extend(0u16.to_le_bytes()); // internal attributes
        h.extend(c.external.to_le_bytes());
        h.extend(c.offset.to_le_bytes());
        h.extend(c.name.as_bytes());
        out.write_all(&h).map_err(io_err)?;
    }
    let directory_size = out.count - directory_start;
    let size32 = small(directory_size).ok_or_else(|| too_large(directory_size))?;
    let count = u16::try_from(central.len()).map_err(|_| too_large(central.len() as u64))?;
    let mut end = Vec::with_capacity(22);
    end.extend(END.to_le_bytes());
    end.extend(0u16.to_le_bytes());
    end.extend(0u16.to_le_bytes());
    end.extend(count.to_le_bytes());
    end.extend(count.to_le_bytes());
    end.extend(size32.to_le_bytes());
    end.extend(start32.to_le_bytes());
    end.extend(0u16.to_le_bytes());
    out.write_all(&end).map_err(io_err)?;
    out.flush().map_err(io_err)?;
    Ok(out.inner)
}

fn local_header<W: Write>(
    out: &mut W,
    name: &str,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
) -> std::io::Result<()> {
    let mut h = Vec::with_capacity(30 + name.len());
    h.extend(LOCAL.to_le_bytes());
    h.extend(VERSION.to_le_bytes());
    h.extend(flags.to_le_bytes());
    h.extend(method.to_le_bytes());
    h.extend(time.to_le_bytes());
    h.extend(date.to_le_bytes());
    // CRC and sizes: zero here; in the data descriptor (files) or truly zero (the directory).
    h.extend([0u8; 12]);
    h.extend((name.len() as u16).to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(name.as_bytes());
    out.write_all(&h)
}

/// MS-DOS time and date (UTC) of Unix seconds; before 1980 (the format's first day), 1980-01-01.
pub(super) fn dos_time(unix: u64) -> (u16, u16) {
    let (year, month, day, hour, minute, second) = crate::date::civil_utc(unix);
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    let year = year.min(1980 + 127);
    let time = (hour << 11) | (minute << 5) | (second / 2);
    let date = ((year - 1980) << 9) | (month << 5) | day;
    (time as u16, date as u16)
}
