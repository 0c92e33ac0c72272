//! Case-insensitive globs (`*` any run of characters, `?` one character) and the texts they
//! are matched against: each text lowercased once per event, not once per pattern, and
//! compared byte by byte when it is ASCII (the usual case). Most patterns are a literal with a
//! star at one end or both, or none (`prod-*`, `*-nightly`, `Failed`): those are compared as
//! such, without the general backtracking walk.

use std::{borrow::Cow, fmt};

/// A text as it arrived (borrowed from the event where it can be) and, unless it is ASCII (the
/// usual case, compared byte by byte without a copy), lowercased into characters for
/// matching: once per event, not once per pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Value<'a> {
    /// As it arrived (for `explain`).
    pub text: Cow<'a, str>,
    lower: Option<Vec<char>>,
}

impl<'a> Value<'a> {
    pub(super) fn new(text: impl Into<Cow<'a, str>>) -> Value<'a> {
        let text = text.into();
        let lower = (!text.is_ascii()).then(|| text.chars().flat_map(char::to_lowercase).collect());
        Value { text, lower }
    }

    /// Its characters, lowercased, by position.
    pub(super) fn lowered(&self) -> Lowered<'_> {
        match &self.lower {
            Some(chars) => Lowered::Chars(chars),
            None => Lowered::Ascii(self.text.as_bytes()),
        }
    }
}

/// A lowercased text, read by position.
#[derive(Clone, Copy)]
pub(super) enum Lowered<'a> {
    Ascii(&'a [u8]),
    Chars(&'a [char]),
}

impl Lowered<'_> {
    fn len(self) -> usize {
        match self {
            Lowered::Ascii(bytes) => bytes.len(),
            Lowered::Chars(chars) => chars.len(),
        }
    }

    fn at(self, index: usize) -> char {
        match self {
            Lowered::Ascii(bytes) => char::from(bytes[index].to_ascii_lowercase()),
            Lowered::Chars(chars) => chars[index],
        }
    }
}

/// A case-insensitive glob: `*` matches any run of characters, `?` one character.
///
/// Most patterns in a routes file are a literal with a star at one end or both (`prod-*`,
/// `*-nightly`) or none (`Failed`); those are compared as such, without the general
/// backtracking walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    pattern: String,
    lower: Vec<char>,
    shape: Shape,
}

/// The form of a glob's lowercased pattern, when it has one of the common ones and its
/// literal is ASCII.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// `*`: anything.
    Any,
    /// No wildcard: this text.
    Exact(Box<[u8]>),
    /// `literal*`.
    Prefix(Box<[u8]>),
    /// `*literal`.
    Suffix(Box<[u8]>),
    /// `*literal*`.
    Contains(Box<[u8]>),
    /// Anything else (`?`, a star inside, a literal that is not ASCII): the general walk.
    General,
}

impl Shape {
    fn of(lower: &[char]) -> Shape {
        if lower.contains(&'?') || !lower.iter().all(char::is_ascii) {
            return Shape::General;
        }
        let text: String = lower.iter().collect();
        let literal = text.trim_matches('*');
        if literal.is_empty() && !text.is_empty() {
            return Shape::Any;
        }
        if literal.contains('*') {
            return Shape::General;
        }
        let bytes: Box<[u8]> = literal.as_bytes().into();
        match (text.starts_with('*'), text.ends_with('*')) {
            (false, false) => Shape::Exact(bytes),
            (false, true) => Shape::Prefix(bytes),
            (true, false) => Shape::Suffix(bytes),
            (true, true) => Shape::Contains(bytes),
        }
    }
}

impl Glob {
    /// The glob written as `pattern`.
    pub fn new(pattern: &str) -> Glob {
        let lower: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
        Glob {
            pattern: pattern.to_owned(),
            shape: Shape::of(&lower),
            lower,
        }
    }

    /// Whether `text` (lowercased) matches.
    pub(super) fn matches_lower(&self, text: Lowered<'_>) -> bool {
        // An ASCII literal against an ASCII text: compare bytes (the literal is lowercase).
        let same = |text: &[u8], literal: &[u8]| {
            text.iter()
                .zip(literal)
                .all(|(t, l)| t.to_ascii_lowercase() == *l)
        };
        match (&self.shape, text) {
            (Shape::Any, _) => true,
            (Shape::Exact(literal), Lowered::Ascii(text)) => {
                text.len() == literal.len() && same(text, literal)
            }
            (Shape::Prefix(literal), Lowered::Ascii(text)) => {
                text.len() >= literal.len() && same(&text[..literal.len()], literal)
            }
            (Shape::Suffix(literal), Lowered::Ascii(text)) => {
                text.len() >= literal.len() && same(&text[text.len() - literal.len()..], literal)
            }
            (Shape::Contains(literal), Lowered::Ascii(text)) => text
                .windows(literal.len())
                .any(|window| same(window, literal)),
            _ => self.walk(text),
        }
    }

    /// The general match: a walk over pattern and text that backtracks to the last star.
    fn walk(&self, text: Lowered<'_>) -> bool {
        let pattern = &self.lower;
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some('?') => {
                    p += 1;
                    t += 1;
                }
                Some(c) if *c == text.at(t) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }

    /// Whether `text` matches, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_lower(Value::new(text).lowered())
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_ignore_case_and_take_stars_and_question_marks() {
        for (glob, text, expected) in [
            ("prod-*", "PROD-churn", true),
            ("prod-*", "dev-churn", false),
            ("*-churn", "prod-churn", true),
            ("p?od", "prod", true),
            ("p?od", "pod", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("Failed", "failed", true),
            ("failed", "failedx", false),
            ("é*", "Ét", true),
        ] {
            assert_eq!(Glob::new(glob).matches(text), expected, "{glob} ~ {text}");
        }
    }

    #[test]
    fn literal_shapes_are_recognised() {
        for (glob, shape) in [
            ("*", Shape::Any),
            ("**", Shape::Any),
            ("", Shape::Exact([].into())),
            ("Failed", Shape::Exact((*b"failed").into())),
            ("prod-*", Shape::Prefix((*b"prod-").into())),
            ("*-Nightly", Shape::Suffix((*b"-nightly").into())),
            ("*churn*", Shape::Contains((*b"churn").into())),
            ("a*b", Shape::General),
            ("p?od", Shape::General),
            ("é*", Shape::General),
        ] {
            assert_eq!(Glob::new(glob).shape, shape, "{glob}");
        }
    }

    proptest::proptest! {
        /// The short cuts for literal shapes decide as the general walk does, for any
        /// pattern and text over letters of both cases, stars, question marks and a letter
        /// outside ASCII.
        #[test]
        fn literal_shapes_decide_as_the_general_walk(
            pattern in "[aAb*?é]{0,6}",
            text in "[aAbBé-]{0,8}",
        ) {
            let glob = Glob::new(&pattern);
            let value = Value::new(text.as_str());
            proptest::prop_assert_eq!(
                glob.matches_lower(value.lowered()),
                glob.walk(value.lowered()),
                "{:?} ~ {:?}", pattern, text
            );
        }
    }
}
