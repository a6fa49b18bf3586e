//! What every route that reads a query or a form shares: the largest body a form may
//! have, and the first value of a field. A leaf, so that the application (`http`) and
//! the account routes (`auth`) both use it without importing each other.

/// The largest request body (a form) any route reads.
pub const MAX_BODY: usize = 64 * 1024;

/// The first value of `key` among query or form pairs ("" when none).
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}
