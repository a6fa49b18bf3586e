//! The /items search's folding: what an item's text and a query are both turned into
//! before one is looked for in the other, so that `proces` finds "Procès-verbal" and
//! `ECHANTILLON` finds "Échantillon".
//!
//! [`fold`]: compatibility decomposition (NFKD: "é" becomes "e" and a combining acute,
//! "ﬁ" becomes "fi"), lower case, and the generic diacritics dropped: the combining
//! marks of the blocks that Latin, Greek and Cyrillic letters take their accents from
//! (U+0300–036F, U+1AB0–1AFF, U+1DC0–1DFF, U+20D0–20FF, U+FE20–FE2F). A script's own
//! marks are kept: Khmer's vowel signs and diacritics (U+17B6–17D3) are letters of the
//! word, not accents on it, so Khmer text is folded into itself, untouched (and so are
//! Devanagari, Thai, Arabic and every other script with marks of its own). A few Latin
//! letters that carry their stroke in the letter itself and have no decomposition
//! (ø, đ, ł, ħ, ı, æ, œ, ß) are folded as readers type them. What is left is composed
//! again (NFC), so that an item's folded text, kept in the snapshot for search, is no
//! larger than its record (a Hangul syllable stays one character).

use unicode_normalization::UnicodeNormalization;

/// Whether `c` is a generic combining diacritic (see the module's note).
fn generic_diacritic(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// `s` folded for search: see the module's note.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd().flat_map(char::to_lowercase) {
        if generic_diacritic(c) {
            continue;
        }
        match c {
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ł' => out.push('l'),
            'ħ' => out.push('h'),
            'ı' => out.push('i'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    if out.is_ascii() {
        return out;
    }
    // The lowercasing may have made decomposable letters again (rare: "İ" → "i̇"):
    // decomposed once more, their diacritics dropped, so that folding is idempotent;
    // then composed (NFC), so that what is left (a Hangul syllable, a letter with a
    // script's own mark) is held as compactly as it was written.
    out.nfkd()
        .filter(|c| !generic_diacritic(*c))
        .nfc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_and_accents_fold() {
        assert_eq!(fold("Procès-verbal"), "proces-verbal");
        assert_eq!(fold("ÉCHANTILLON"), "echantillon");
        assert_eq!(fold("Échantillon"), fold("echantillon"));
        assert_eq!(fold("Øre Straße"), "ore strasse");
        assert_eq!(fold("ﬁche"), "fiche");
        // NFC and NFD spellings of the same text fold alike.
        assert_eq!(fold("proc\u{e8}s"), fold("proce\u{300}s"));
        assert_eq!(fold("İstanbul"), "istanbul");
        // Hangul stays composed: no larger than written.
        assert_eq!(fold("한국어"), "한국어");
    }

    #[test]
    fn khmer_is_untouched() {
        for k in ["ទួលស្លែង", "ឯកសារសាកល្បង", "គំរូ"]
        {
            assert_eq!(fold(k), k, "Khmer folds into itself");
        }
        // Its vowel signs are letters of the word: a word without them is another word.
        assert_ne!(fold("ទួល"), fold("ទល"));
    }

    #[test]
    fn folding_is_idempotent() {
        for s in ["Procès-verbal", "İİ", "ទួលស្លែង", "Ǆemal", "ﬃ", "한국어"]
        {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }
}
