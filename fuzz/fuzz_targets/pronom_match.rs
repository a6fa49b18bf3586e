#![no_main]
//! The PRONOM signature matcher: a DROID byte pattern (the input up to its first
//! 0x00 byte) parsed and matched at every position of the rest, forwards and
//! reversed, under a step budget; and the rest identified against every signature of
//! the built-in DROID signature file (as head and as tail). Nothing may panic, and a
//! hostile pattern must give up when its budget is spent rather than hang.
use std::sync::OnceLock;

use cairn::pronom::pattern::{match_at, parse, reverse, Budget};
use cairn::pronom::Identifier;
use libfuzzer_sys::fuzz_target;

fn identifier() -> &'static Identifier {
    static ID: OnceLock<Identifier> = OnceLock::new();
    ID.get_or_init(|| Identifier::builtin().expect("the built-in signature files compile"))
}

fuzz_target!(|data: &[u8]| {
    let (pat, rest) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(text) = std::str::from_utf8(pat) {
        if let Ok(toks) = parse(text, false) {
            let rev = reverse(&toks);
            let rdata: Vec<u8> = rest.iter().rev().copied().collect();
            let mut budget = Budget(200_000);
            for p in 0..=rest.len() {
                let mut end = None;
                if match_at(&toks, rest, p, &mut budget, &mut |e, _| {
                    end = Some(e);
                    true
                }) {
                    let e = end.expect("a match reports its end");
                    assert!(
                        e >= p && e <= rest.len(),
                        "match end {e} outside {p}..={}",
                        rest.len()
                    );
                }
                let _ = match_at(&rev, &rdata, p, &mut budget, &mut |_, _| true);
            }
        }
    }
    let id = identifier();
    let r = id.identify_bytes(rest, None, Some("fuzz.bin"));
    assert_eq!(r.puid.is_none(), r.basis == cairn::pronom::Basis::None);
    let half = rest.len() / 2;
    let _ = id.identify_bytes(&rest[..half], Some(&rest[half..]), None);
});
