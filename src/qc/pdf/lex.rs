//! A small PDF object parser for the dictionaries validation needs (trailers, xref
//! and object stream dictionaries, the catalog, page-tree nodes): bounded depth, on
//! bytes in memory.

/// Nesting of arrays and dictionaries parsed at most.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Obj {
    Null,
    Bool(bool),
    Int(i64),
    Real,
    Name(Vec<u8>),
    Str,
    Array(Vec<Obj>),
    Dict(Vec<(Vec<u8>, Obj)>),
    Ref(u32, u16),
}

impl Obj {
    pub(super) fn get(&self, key: &[u8]) -> Option<&Obj> {
        match self {
            Obj::Dict(d) => d.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(super) fn int(&self) -> Option<i64> {
        match self {
            Obj::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub(super) fn is_name(&self, n: &[u8]) -> bool {
        matches!(self, Obj::Name(x) if x == n)
    }
}

pub(super) fn is_ws(c: u8) -> bool {
    // 0x0B as qpdf's tokenizer accepts it.
    matches!(c, 0 | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

fn is_delim(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

pub(super) struct Lexer<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Lexer { b, pos: 0 }
    }

    /// Skips white space and comments.
    pub(super) fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if is_ws(c) {
                self.pos += 1;
            } else if c == b'%' {
                while self
                    .b
                    .get(self.pos)
                    .is_some_and(|c| *c != b'\n' && *c != b'\r')
                {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A regular token (a keyword or a number), after white space.
    pub(super) fn word(&mut self) -> &'a [u8] {
        self.ws();
        self.word_raw()
    }

    pub(super) fn uint(&mut self) -> Option<u64> {
        let w = self.word();
        if w.is_empty() || w.len() > 19 || !w.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(w).ok()?.parse().ok()
    }

    /// `N G obj`: the object number and generation.
    pub(super) fn obj_header(&mut self) -> Option<(u32, u16)> {
        let n = u32::try_from(self.uint()?).ok()?;
        let g = u16::try_from(self.uint()?).ok()?;
        (self.word() == b"obj").then_some((n, g))
    }

    pub(super) fn object(&mut self) -> Option<Obj> {
        self.obj(0)
    }

    fn obj(&mut self, depth: usize) -> Option<Obj> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        let c = *self.b.get(self.pos)?;
        match c {
            b'/' => {
                self.pos += 1;
                let w = self.word_raw();
                Some(Obj::Name(w.to_vec()))
            }
            b'[' => {
                self.pos += 1;
                let mut v = Vec::new();
                loop {
                    self.ws();
                    if *self.b.get(self.pos)? == b']' {
                        self.pos += 1;
                        return Some(Obj::Array(v));
                    }
                    v.push(self.obj(depth + 1)?);
                }
            }
            b'<' if self.b.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut d = Vec::new();
                loop {
                    self.ws();
                    if self.b.get(self.pos..self.pos + 2)? == b">>" {
                        self.pos += 2;
                        return Some(Obj::Dict(d));
                    }
                    let Obj::Name(k) = self.obj(depth + 1)? else {
                        return None;
                    };
                    let v = self.obj(depth + 1)?;
                    d.push((k, v));
                }
            }
            b'<' => {
                let end = self.b[self.pos..].iter().position(|c| *c == b'>')?;
                let hex = &self.b[self.pos + 1..self.pos + end];
                if !hex.iter().all(|c| c.is_ascii_hexdigit() || is_ws(*c)) {
                    return None;
                }
                self.pos += end + 1;
                Some(Obj::Str)
            }
            b'(' => self.string(),
            _ => self.atom(),
        }
    }

    fn word_raw(&mut self) -> &'a [u8] {
        let s = self.pos;
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| !is_ws(*c) && !is_delim(*c))
        {
            self.pos += 1;
        }
        &self.b[s..self.pos]
    }

    fn string(&mut self) -> Option<Obj> {
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(Obj::Str);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn atom(&mut self) -> Option<Obj> {
        let w = self.word_raw();
        match w {
            b"" => None,
            b"null" => Some(Obj::Null),
            b"true" => Some(Obj::Bool(true)),
            b"false" => Some(Obj::Bool(false)),
            _ if w.iter().all(u8::is_ascii_digit) => {
                let n: i64 = std::str::from_utf8(w).ok()?.parse().ok()?;
                // `N G R`: look ahead for a reference.
                let save = self.pos;
                if let (Some(g), b"R") = (self.uint(), self.word()) {
                    if let (Ok(n), Ok(g)) = (u32::try_from(n), u16::try_from(g)) {
                        return Some(Obj::Ref(n, g));
                    }
                }
                self.pos = save;
                Some(Obj::Int(n))
            }
            _ if w
                .iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.')) =>
            {
                let s = std::str::from_utf8(w).ok()?;
                Some(s.parse::<i64>().map_or(Obj::Real, Obj::Int))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dictionaries_refs_and_strings() {
        let b = b"<< /Type /Catalog /Pages 3 0 R /A [1 2.5 (a(b)c\\)) <41>] /N -4 /D << >> >>";
        let o = Lexer::new(b).object().unwrap();
        assert!(o.get(b"Type").unwrap().is_name(b"Catalog"));
        assert_eq!(o.get(b"Pages"), Some(&Obj::Ref(3, 0)));
        assert_eq!(o.get(b"N"), Some(&Obj::Int(-4)));
        assert_eq!(
            o.get(b"A"),
            Some(&Obj::Array(vec![
                Obj::Int(1),
                Obj::Real,
                Obj::Str,
                Obj::Str
            ]))
        );
        assert_eq!(Lexer::new(b"<< /A [ 1 2 ").object(), None);
        let deep = [b'['; 100];
        assert_eq!(Lexer::new(&deep).object(), None);
        assert_eq!(Lexer::new(b"12 0 obj").obj_header(), Some((12, 0)));
    }
}
