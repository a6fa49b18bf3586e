//! File-format identification from a file's first bytes, never its name.
//!
//! Pure: looks at a byte slice. Uses the `infer` crate's magic numbers; text is
//! recognised as valid UTF-8 without NUL bytes (infer does not identify text).

/// How many leading bytes identification needs.
pub const HEAD_LEN: usize = 8192;

/// The MIME type of content beginning with `head` (at most [`HEAD_LEN`] bytes; `len`
/// is the whole file's length).
pub fn sniff_mime(head: &[u8], len: u64) -> String {
    if len == 0 {
        return "application/x-empty".to_string();
    }
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    if looks_like_utf8_text(head, len) {
        return "text/plain; charset=utf-8".to_string();
    }
    "application/octet-stream".to_string()
}

fn looks_like_utf8_text(head: &[u8], len: u64) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut off at the end of the sample is still text.
        Err(e) => e.error_len().is_none() && (head.len() as u64) < len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_content_not_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff_mime(png, 100), "image/png");
        assert_eq!(
            sniff_mime("ទួលស្លែង\n".as_bytes(), 25),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff_mime(b"\0\x01\x02", 3), "application/octet-stream");
        assert_eq!(sniff_mime(b"", 0), "application/x-empty");
        assert_eq!(sniff_mime(b"%PDF-1.7\n", 9), "application/pdf");
    }
}
