//! The image data: the IDAT chunks' zlib stream inflated and counted row by row against
//! what IHDR says, each row's filter type checked.

use flate2::{Decompress, FlushDecompress, Status};

use super::{Findings, Header, OUT};

/// Counts the inflated image data and checks each row's filter byte.
pub(super) struct Rows {
    z: Decompress,
    out: Box<[u8]>,
    passes: Vec<(u64, u64)>,
    pass: usize,
    /// Rows left in the current pass, and bytes left in the current row.
    rows_left: u64,
    in_row: u64,
    total: u64,
    expected: u64,
    ended: bool,
    failed: bool,
    bad_filter: bool,
    /// Compressed bytes after the zlib stream's end.
    trailing: u64,
}

impl Rows {
    pub(super) fn new(h: &Header) -> Rows {
        let passes = h.passes();
        let expected = passes
            .iter()
            .fold(0u64, |t, &(r, b)| t.saturating_add(r.saturating_mul(b)));
        let mut rows = Rows {
            z: Decompress::new(true),
            out: vec![0u8; OUT].into_boxed_slice(),
            passes,
            pass: 0,
            rows_left: 0,
            in_row: 0,
            total: 0,
            expected,
            ended: false,
            failed: false,
            bad_filter: false,
            trailing: 0,
        };
        if let Some(&(r, _)) = rows.passes.first() {
            rows.rows_left = r;
        }
        rows
    }

    /// Feeds compressed bytes from the IDAT chunk whose data starts at `at`.
    pub(super) fn feed(&mut self, mut data: &[u8], at: u64, out: &mut Findings) {
        loop {
            if self.failed {
                return;
            }
            if self.ended {
                self.trailing += data.len() as u64;
                return;
            }
            let (i0, o0) = (self.z.total_in(), self.z.total_out());
            let res = self
                .z
                .decompress(data, &mut self.out, FlushDecompress::None);
            let used = (self.z.total_in() - i0) as usize;
            let made = (self.z.total_out() - o0) as usize;
            self.count(made, at, out);
            data = &data[used..];
            match res {
                Ok(Status::StreamEnd) => self.ended = true,
                // All input taken and the output not full: nothing is pending.
                Ok(_) if (data.is_empty() && made < OUT) || (used == 0 && made == 0) => return,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    out.not_well_formed(
                        "PNG-IDAT-ZLIB",
                        at,
                        format!(
                            "the compressed image data is damaged ({e}) after {} bytes of \
                             pixels: the image cannot be decoded past that point",
                            self.total
                        ),
                    );
                }
            }
        }
    }

    fn count(&mut self, made: usize, at: u64, out: &mut Findings) {
        let mut k = 0usize;
        while k < made {
            if self.in_row == 0 {
                // The next row starts: its filter byte.
                while self.rows_left == 0 {
                    self.pass += 1;
                    match self.passes.get(self.pass) {
                        Some(&(r, _)) => self.rows_left = r,
                        None => {
                            self.total += (made - k) as u64;
                            return;
                        }
                    }
                }
                let f = self.out[k];
                if f > 4 && !self.bad_filter {
                    self.bad_filter = true;
                    out.not_well_formed(
                        "PNG-FILTER-TYPE",
                        at,
                        format!(
                            "row data at byte {} of the inflated image has filter type {f}; \
                             0 to 4 exist: the image data is damaged",
                            self.total
                        ),
                    );
                }
                self.in_row = self.passes[self.pass].1;
                self.rows_left -= 1;
            }
            let n = (self.in_row as usize).min(made - k);
            self.in_row -= n as u64;
            self.total += n as u64;
            k += n;
        }
    }
}

/// Compares the inflated image data with what IHDR says.
pub(super) fn image_data(out: &mut Findings, at: u64, rw: &Rows) {
    if rw.failed {
        return;
    }
    if rw.total < rw.expected {
        out.not_well_formed(
            "PNG-IDAT-SHORT",
            at,
            format!(
                "the image data inflates to {} bytes; IHDR's size needs {}: the bottom of the \
                 image is missing",
                rw.total, rw.expected
            ),
        );
    } else if rw.total > rw.expected {
        out.warning(
            "PNG-IDAT-EXTRA",
            at,
            format!(
                "the image data inflates to {} bytes, more than the {} IHDR's size needs",
                rw.total, rw.expected
            ),
        );
    } else if !rw.ended {
        out.warning(
            "PNG-IDAT-UNFINISHED",
            at,
            "the compressed image data has all its pixels but its zlib stream does not end",
        );
    }
    if rw.trailing > 0 {
        out.warning(
            "PNG-IDAT-TRAILING",
            at,
            format!(
                "{} compressed bytes follow the end of the image data's zlib stream",
                rw.trailing
            ),
        );
    }
}
