//! Path patterns of `Tag-Files-Allowed` and `Payload-Files-Allowed`, matched as the
//! reference validator matches them (Python's `fnmatch` on POSIX): `*` is any run of
//! characters *including* `/` (glob(7), which the specification cites, would stop at
//! `/`), `?` is one character, `[abc]`, `[a-z]` and `[!abc]` are sets; case counts.

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point for the last `*`: linear space,
    // O(len(p) * len(n)) time at worst, whatever the pattern.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((hit, next)) = set(&p, pi, n[ni]) {
                        if hit {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` set at `p[at]`: whether `c` is in it and the index after it; `None` when
/// the bracket is not closed (then it is a literal `[`, as in fnmatch).
fn set(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((hit != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_crosses_slashes_like_fnmatch() {
        assert!(matches("*", "a/b/c.txt"));
        assert!(matches("DPN/*", "DPN/x/y"));
        assert!(!matches("DPN/*", "dpn/x"));
        assert!(matches("data/*.tif", "data/a/b.tif"));
        assert!(!matches("data/*.tif", "data/a/b.jpg"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn question_and_sets() {
        assert!(matches("a?c", "abc"));
        assert!(matches("[ab]x", "bx"));
        assert!(!matches("[!ab]x", "bx"));
        assert!(matches("[a-c]", "b"));
        assert!(matches("[x", "[x"));
        assert!(matches(
            "*a*a*a*a*b",
            &"a".repeat(40).replace("aaaa", "aaab")
        ));
    }
}
