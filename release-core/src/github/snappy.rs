//! Snappy *block* decompression (the raw format, not the framed stream): how GitHub serves an
//! attestation bundle from its `bundle_url` (`Content-Type: application/x-snappy`, `.json.sn`)
//! since 2026-07-16 (protocols-sigstore.md §6).
//!
//! The format (google/snappy `format_description.txt`): the uncompressed length as a
//! little-endian base-128 varint, then elements, each led by a tag byte whose low two bits
//! say what it is:
//! - `00` a literal: its length − 1 in the upper six bits, or, when those say 60–63, in the
//!   next 1–4 bytes (little-endian); the bytes follow;
//! - `01` a copy of 4–11 bytes (bits 2–4, plus 4) from an offset of 11 bits (bits 5–7 and the
//!   next byte);
//! - `10` / `11` a copy of 1–64 bytes (the upper six bits, plus 1) from an offset in the next
//!   2 / 4 bytes.
//!
//! A copy may overlap what it writes (an offset smaller than its length repeats a run). Every
//! length and offset is checked: a corrupt or hostile blob is an error, never a panic or an
//! allocation past `limit`.

/// Decompresses a snappy block of at most `limit` bytes uncompressed.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let (length, mut at) = varint(input)?;
    if length > limit as u64 {
        return Err(format!("it would decompress to {length} bytes, more than the {limit} allowed"));
    }
    let length = length as usize;
    let mut out = Vec::with_capacity(length);
    let take = |at: usize, n: usize| -> Result<u64, String> {
        let bytes = input.get(at..at + n).ok_or("it ends inside an element")?;
        Ok(bytes.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    };
    while at < input.len() {
        let tag = input[at];
        at += 1;
        let upper = usize::from(tag >> 2);
        let (copy_length, offset) = match tag & 3 {
            0 => {
                let literal = if upper < 60 {
                    upper + 1
                } else {
                    let n = upper - 59;
                    let value = take(at, n)?;
                    at += n;
                    usize::try_from(value).map_err(|_| "a literal is too long")? + 1
                };
                let bytes = input.get(at..at.saturating_add(literal)).ok_or("a literal runs past the end")?;
                if out.len() + literal > length {
                    return Err("it holds more bytes than its header says".into());
                }
                out.extend_from_slice(bytes);
                at += literal;
                continue;
            }
            1 => {
                let low = take(at, 1)? as usize;
                at += 1;
                ((upper & 7) + 4, ((upper >> 3) << 8) | low)
            }
            2 => {
                let offset = take(at, 2)? as usize;
                at += 2;
                (upper + 1, offset)
            }
            _ => {
                let offset = usize::try_from(take(at, 4)?).map_err(|_| "an offset is too large")?;
                at += 4;
                (upper + 1, offset)
            }
        };
        if offset == 0 || offset > out.len() {
            return Err(format!("a copy reaches back {offset} bytes from byte {}", out.len()));
        }
        if out.len() + copy_length > length {
            return Err("it holds more bytes than its header says".into());
        }
        let start = out.len() - offset;
        for i in 0..copy_length {
            out.push(out[start + i]);
        }
    }
    if out.len() != length {
        return Err(format!("it holds {} bytes, its header says {length}", out.len()));
    }
    Ok(out)
}

/// The leading varint: its value and the bytes it took.
fn varint(input: &[u8]) -> Result<(u64, usize), String> {
    let mut value = 0u64;
    for (i, byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err("it does not start with a length".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    #[test]
    fn what_an_independent_encoder_writes_decodes_to_the_input() {
        // Text with long repeats (copies with 1-, 2-byte offsets), a long literal (a 2-byte
        // literal length), and an overlapping run.
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&format!("{{\"name\": \"file-{i}\", \"digest\": {{\"sha256\": \"{:064x}\"}}}},", i * 7919));
        }
        text.push_str(&"a".repeat(5000));
        let random: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for input in [text.into_bytes(), random, Vec::new(), b"x".to_vec()] {
            let compressed = snap::raw::Encoder::new().compress_vec(&input).unwrap();
            assert_eq!(decompress(&compressed, LIMIT).unwrap(), input);
        }
    }

    #[test]
    fn four_byte_offsets_and_overlapping_copies() {
        // Length 7: literal "ab", then a copy of 5 bytes from offset 2 (a 4-byte offset).
        let block = [7, 0b0000_0100, b'a', b'b', (4 << 2) | 3, 2, 0, 0, 0];
        assert_eq!(decompress(&block, LIMIT).unwrap(), b"abababa");
    }

    #[test]
    fn corrupt_blocks_are_errors() {
        let good = snap::raw::Encoder::new().compress_vec(b"hello hello hello hello").unwrap();
        assert!(decompress(&good[..good.len() - 1], LIMIT).is_err(), "truncated");
        assert!(decompress(&[5, 0b0000_0100, b'a', b'b'], LIMIT).unwrap_err().contains("header says 5"));
        assert!(decompress(&[4, 0b0000_0001, 9], LIMIT).unwrap_err().contains("reaches back 9"));
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0x0f], LIMIT).unwrap_err().contains("more than"));
        assert!(decompress(&[0x80, 0x80], LIMIT).is_err(), "no length");
        assert!(decompress(b"{\"mediaType\"", LIMIT).is_err(), "plain JSON is not a snappy block");
    }
}
