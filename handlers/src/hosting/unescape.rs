//! Decodes one JSON string literal into its text, fast: the Functions host wraps every event in
//! two of them (SPEC §5), escapes are dense there (each `"` of the event arrives as `\\\"`), and
//! reading them through a general JSON parser was the largest cost of an invocation.
//!
//! It copies the runs between escapes and decodes each escape, `\uXXXX` and
//! surrogate pairs included. It expects one complete literal; what is inside was already
//! checked to be JSON by the parser that found the literal, and the decoded text is parsed
//! again as JSON, so it only refuses what it cannot decode.

/// The text of the JSON string literal `literal` (surrounding whitespace allowed).
pub(crate) fn unescape(literal: &str) -> Result<String, &'static str> {
    let inner = match literal.trim().as_bytes() {
        [b'"', inner @ .., b'"'] => inner,
        _ => return Err("is not a complete JSON string"),
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner;
    // A plain loop: escapes are so dense in the host's encoding (nearly every other byte of
    // the outer literal) that searching for them with SIMD costs more than it saves.
    while let Some(at) = rest.iter().position(|&b| b == b'\\' || b == b'"') {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'"' {
            return Err("has an unescaped quote inside");
        }
        let Some(&escape) = rest.get(at + 1) else {
            return Err("ends inside an escape");
        };
        rest = &rest[at + 2..];
        match escape {
            b'"' | b'\\' | b'/' => out.push(escape),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let (ch, used) = unicode(rest)?;
                rest = &rest[used..];
                let mut utf8 = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
            }
            _ => return Err("has an invalid escape"),
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).map_err(|_| "is not UTF-8 once decoded")
}

/// The character of a `\u` escape whose four hex digits start `rest` (and of the low
/// surrogate's escape that must follow a high one); how many bytes it used.
fn unicode(rest: &[u8]) -> Result<(char, usize), &'static str> {
    let high = hex4(rest)?;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(high)
            .map(|ch| (ch, 4))
            .ok_or("has a lone low surrogate");
    }
    let low = match rest.get(4..6) {
        Some(b"\\u") => hex4(&rest[6..])?,
        _ => return Err("has a lone high surrogate"),
    };
    if !(0xDC00..0xE000).contains(&low) {
        return Err("has a high surrogate without its low one");
    }
    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    char::from_u32(code)
        .map(|ch| (ch, 10))
        .ok_or("has an invalid surrogate pair")
}

fn hex4(digits: &[u8]) -> Result<u32, &'static str> {
    let digits = digits.get(..4).ok_or("ends inside a \\u escape")?;
    digits.iter().try_fold(0, |value, &digit| {
        let nibble = (digit as char)
            .to_digit(16)
            .ok_or("has a \\u escape that is not hex")?;
        Ok(value * 16 + nibble)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn decodes_every_escape() {
        let literal = r#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00""#;
        assert_eq!(unescape(literal).unwrap(), "a\"b\\c/d\u{8}\u{c}\n\r\té€😀");
        assert_eq!(unescape("  \"plain\" ").unwrap(), "plain");
    }

    #[test]
    fn refuses_what_it_cannot_decode() {
        for literal in [
            r#""abc"#,
            r#"abc""#,
            r#""a"b""#,
            r#""a\"#,
            r#""\x""#,
            r#""\u12""#,
            r#""\uzzzz""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
        ] {
            assert!(unescape(literal).is_err(), "{literal}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever serde_json encodes, this decodes back, and it agrees with serde_json on
        /// every literal serde_json accepts.
        #[test]
        fn agrees_with_serde_json(text in "\\PC*", raw in "\"[ -~]{0,40}\"") {
            let encoded = serde_json::to_string(&text).unwrap();
            prop_assert_eq!(unescape(&encoded).unwrap(), text);
            if let Ok(expected) = serde_json::from_str::<String>(&raw) {
                prop_assert_eq!(unescape(&raw).unwrap(), expected);
            }
        }
    }
}
