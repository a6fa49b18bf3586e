//! The entropy-coded data after a scan header, streamed to the next marker.

use std::io::{BufRead, Read};

use super::{Findings, Stream};

/// Streams through entropy-coded data to the next marker: that marker and its place, or
/// `None` when the file ends first.
pub(super) fn entropy<R: Read>(
    s: &mut Stream<R>,
    out: &mut Findings,
    restart: u16,
) -> std::io::Result<Option<(u8, u64)>> {
    let mut expect = 0u8;
    let mut warned = false;
    loop {
        let buf = s.r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let Some(i) = memchr::memchr(0xFF, buf) else {
            let n = buf.len();
            s.r.consume(n);
            s.pos += n as u64;
            continue;
        };
        s.r.consume(i + 1);
        let at = s.pos + i as u64;
        s.pos += i as u64 + 1;
        // The byte after FF (fill bytes FF may repeat).
        let m = loop {
            match s.byte()? {
                None => return Ok(None),
                Some(0xFF) => continue,
                Some(b) => break b,
            }
        };
        match m {
            0x00 => {}
            0xD0..=0xD7 => {
                let n = m - 0xD0;
                if restart == 0 {
                    if !warned {
                        warned = true;
                        out.not_valid(
                            "JPEG-RST-UNEXPECTED",
                            at,
                            format!(
                                "a restart marker (RST{n}) at byte {at}, but no DRI segment \
                                 set a restart interval"
                            ),
                        );
                    }
                } else if n != expect && !warned {
                    warned = true;
                    out.not_valid(
                        "JPEG-RST-SEQUENCE",
                        at,
                        format!(
                            "restart marker RST{n} at byte {at} where RST{expect} was expected: \
                             part of the image data is missing or damaged here"
                        ),
                    );
                }
                expect = (n + 1) % 8;
            }
            _ => return Ok(Some((m, at))),
        }
    }
}
