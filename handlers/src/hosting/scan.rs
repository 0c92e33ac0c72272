//! A fast path to the entries of `Data` in a plain, well-formed host invocation: walks the
//! body's structure, stepping over strings instead of decoding them, and returns each
//! entry's raw JSON text. Reading the host's escape-dense `Data.event` string through a
//! general parser before decoding it was the largest cost of an invocation.
//!
//! It answers only when the body is unmistakably an invocation object; anything unusual
//! (escaped keys, a repeated `Data`, deep nesting, trailing bytes) gets `None`, and the
//! general parser reads the body instead and explains what is wrong. The entries' text is
//! parsed as JSON afterwards, so nothing unchecked reaches the functions.

/// How deep `Metadata` may nest before the fast path gives up.
const MAX_DEPTH: usize = 32;

/// `Data`'s entries as (name, raw JSON value), or `None` to leave the body to the general
/// parser.
pub(crate) fn data_entries(body: &[u8]) -> Option<Vec<(&str, &str)>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut scan = Scan { text, at: 0 };
    let mut data = None;
    scan.byte(b'{')?;
    if !scan.peek_is(b'}') {
        loop {
            let key = scan.key()?;
            scan.byte(b':')?;
            if key == "Data" || key == "data" {
                if data.is_some() {
                    return None;
                }
                data = Some(scan.entries()?);
            } else {
                scan.value(0)?;
            }
            if !scan.comma_or(b'}')? {
                break;
            }
        }
    } else {
        scan.byte(b'}')?;
    }
    scan.skip_ws();
    (scan.at == text.len()).then_some(())?;
    data
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn bytes(&self) -> &'a [u8] {
        &self.text.as_bytes()[self.at..]
    }

    fn skip_ws(&mut self) {
        let skipped = self
            .bytes()
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        self.at += skipped;
    }

    fn peek_is(&mut self, expected: u8) -> bool {
        self.skip_ws();
        self.bytes().first() == Some(&expected)
    }

    /// Consumes `expected` after optional whitespace.
    fn byte(&mut self, expected: u8) -> Option<()> {
        self.peek_is(expected).then(|| self.at += 1)
    }

    /// After a member: `true` on `,` (another follows), `false` on `close`.
    fn comma_or(&mut self, close: u8) -> Option<bool> {
        if self.byte(b',').is_some() {
            Some(true)
        } else {
            self.byte(close).map(|()| false)
        }
    }

    /// A string's raw text, quotes included; escapes are stepped over, not decoded. A plain
    /// loop: in the host's double-encoded event nearly every other byte is a backslash, too
    /// dense for a vectorised search to pay off.
    fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let start = self.at - 1;
        let bytes = self.text.as_bytes();
        let mut at = self.at;
        while at < bytes.len() {
            match bytes[at] {
                b'"' => {
                    self.at = at + 1;
                    return self.text.get(start..self.at);
                }
                // A backslash and the byte it escapes (a `\u` escape's hex digits need no care).
                b'\\' => at += 2,
                _ => at += 1,
            }
        }
        None
    }

    /// An object key without escapes, unquoted.
    fn key(&mut self) -> Option<&'a str> {
        let raw = self.string()?;
        let name = &raw[1..raw.len() - 1];
        (!name.contains('\\')).then_some(name)
    }

    /// `Data`'s object: each entry's name and raw value.
    fn entries(&mut self) -> Option<Vec<(&'a str, &'a str)>> {
        self.byte(b'{')?;
        let mut entries = Vec::with_capacity(1);
        if self.byte(b'}').is_some() {
            return Some(entries);
        }
        loop {
            let name = self.key()?;
            self.byte(b':')?;
            let value = self.value(1)?;
            entries.push((name, value));
            if !self.comma_or(b'}')? {
                return Some(entries);
            }
        }
    }

    /// Any JSON value's raw text.
    fn value(&mut self, depth: usize) -> Option<&'a str> {
        (depth <= MAX_DEPTH).then_some(())?;
        self.skip_ws();
        let start = self.at;
        match *self.bytes().first()? {
            b'"' => return self.string(),
            b'{' => {
                self.at += 1;
                if self.byte(b'}').is_none() {
                    loop {
                        self.key()?;
                        self.byte(b':')?;
                        self.value(depth + 1)?;
                        if !self.comma_or(b'}')? {
                            break;
                        }
                    }
                }
            }
            b'[' => {
                self.at += 1;
                if self.byte(b']').is_none() {
                    loop {
                        self.value(depth + 1)?;
                        if !self.comma_or(b']')? {
                            break;
                        }
                    }
                }
            }
            _ => {
                let token = self
                    .bytes()
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                    .count();
                let word = &self.text[self.at..self.at + token];
                let valid = matches!(word, "true" | "false" | "null")
                    || (word.starts_with(|c: char| c == '-' || c.is_ascii_digit())
                        && word.parse::<f64>().is_ok());
                valid.then_some(())?;
                self.at += token;
            }
        }
        self.text.get(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_data_entries_and_skips_the_rest() {
        let body = br#" { "Metadata": {"sys": {"n": [1, -2.5e3, true, null, "x\"y"]}}, "Data": {"event": "\"{\\\"id\\\": 1}\"", "other": {"a": [ ]}} } "#;
        let entries = data_entries(body).unwrap();
        assert_eq!(
            entries,
            [
                ("event", r#""\"{\\\"id\\\": 1}\"""#),
                ("other", r#"{"a": [ ]}"#)
            ]
        );
    }

    #[test]
    fn leaves_anything_unusual_to_the_general_parser() {
        for body in [
            &b"not json"[..],
            br#"{"Data": {"event": 1}} x"#,
            br#"{"Data": {"event": 1}, "Data": {}}"#,
            br#"{"D\u0061ta": {"event": 1}}"#,
            br#"{"Data": {"event": "unterminated}}"#,
            br#"{"Data": {"event": tru}}"#,
            br#"{"Data": {"event": +1}}"#,
            br#"{"Data": {"event": [1, 2}}"#,
            b"{\"Data\": {\"event\": \"\\",
        ] {
            assert_eq!(
                data_entries(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = format!(
            r#"{{"Metadata": {}1{}, "Data": {{}}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(data_entries(deep.as_bytes()), None);
        assert_eq!(
            data_entries(br#"{"Metadata": {}}"#),
            None,
            "no Data: the general parser says so"
        );
    }
}
