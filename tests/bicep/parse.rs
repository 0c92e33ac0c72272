//! The parser behind [`super::Template`]: recursive descent straight over the text, without a
//! separate tokenizer, because a line break ends a declaration or an item in some places and is
//! only space in others. What it does not know stops it with the file and the line.

use super::{Decl, Expr, Kind, Loc, Piece};

/// The declarations in `src`, named `file` in messages.
pub(super) fn decls(file: &'static str, src: &str) -> Vec<Decl> {
    let mut parser = Parser { file, src, at: 0 };
    let (mut decls, mut decorators) = (Vec::new(), Vec::new());
    loop {
        parser.skip(true);
        if parser.rest().is_empty() {
            break;
        }
        if parser.eat("@") {
            decorators.push(parser.unary());
        } else {
            decls.push(parser.decl(std::mem::take(&mut decorators)));
        }
        parser.end_of_line();
    }
    if !decorators.is_empty() {
        parser.fail("a declaration after the decorators");
    }
    decls
}

struct Parser<'s> {
    file: &'static str,
    src: &'s str,
    at: usize,
}

impl<'s> Parser<'s> {
    fn loc(&self) -> Loc {
        let (file, line) = (self.file, self.src[..self.at].matches('\n').count() + 1);
        Loc { file, line }
    }

    fn rest(&self) -> &'s str {
        &self.src[self.at..]
    }

    fn fail(&self, expected: &str) -> ! {
        let line = self.rest().lines().next().unwrap_or_default();
        let found: String = line.chars().take(40).collect();
        let loc = self.loc();
        panic!(
            "{loc}: expected {expected}, found `{found}` (tests/bicep/mod.rs says what is read)"
        );
    }

    /// Skips spaces and `//` comments, and line breaks too if `lines`.
    fn skip(&mut self, lines: bool) {
        let space = |c: char| matches!(c, ' ' | '\t' | '\r') || (lines && c == '\n');
        loop {
            let rest = self.rest();
            if rest.starts_with("/*") {
                self.fail("`//` comments only");
            }
            let len = match rest.strip_prefix("//") {
                Some(comment) => 2 + comment.find('\n').unwrap_or(comment.len()),
                None => rest.len() - rest.trim_start_matches(space).len(),
            };
            if len == 0 {
                return;
            }
            self.at += len;
        }
    }

    /// Skips spaces, then takes `token` if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip(false);
        let found = self.rest().starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str) {
        if !self.eat(token) {
            self.fail(&format!("`{token}`"));
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip(false);
        let rest = self.rest();
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        let word = &rest[..end.unwrap_or(rest.len())];
        let is_name = word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        is_name.then(|| {
            self.at += word.len();
            word.to_owned()
        })
    }

    fn name(&mut self, what: &str) -> String {
        self.ident().unwrap_or_else(|| self.fail(what))
    }

    /// Takes `word` if it comes next.
    fn keyword(&mut self, word: &str) -> bool {
        let start = self.at;
        let found = self.ident().is_some_and(|next| next == word);
        if !found {
            self.at = start;
        }
        found
    }

    fn expect_keyword(&mut self, word: &str) {
        if !self.keyword(word) {
            self.fail(&format!("`{word}`"));
        }
    }

    fn end_of_line(&mut self) {
        if !(self.eat("\n") || self.rest().is_empty()) {
            self.fail("the end of the line");
        }
    }

    fn decl(&mut self, decorators: Vec<Expr>) -> Decl {
        let loc = self.loc();
        let keyword = self.name("a declaration");
        if !["param", "var", "resource", "output"].contains(&keyword.as_str()) {
            self.at -= keyword.len();
            self.fail("`param`, `var`, `resource` or `output`");
        }
        let name = self.name("a name");
        let mut decl = Decl {
            keyword,
            name,
            decorators,
            loc,
            ..Decl::default()
        };
        match decl.keyword.as_str() {
            "resource" => self.resource(&mut decl),
            "var" => {
                self.expect("=");
                decl.value = Some(self.expr());
            }
            _ => {
                decl.ty = self.name("a one-word type");
                if self.eat("=") {
                    decl.value = Some(self.expr());
                } else if decl.keyword == "output" {
                    self.fail("`=`");
                }
            }
        }
        decl
    }

    /// A resource, from after its symbol.
    fn resource(&mut self, decl: &mut Decl) {
        let ty = self.primary();
        let Some((name, version)) = ty.text().and_then(|text| text.split_once('@')) else {
            panic!("{}: expected 'TYPE@API-VERSION', found {ty}", ty.loc);
        };
        (decl.ty, decl.api_version) = (name.to_owned(), version.to_owned());
        decl.existing = self.keyword("existing");
        self.expect("=");
        let looped = self.eat("[");
        if looped {
            self.expect_keyword("for");
            let item = self.name("one loop variable");
            self.expect_keyword("in");
            decl.for_each = Some((item, self.expr()));
            self.expect(":");
        }
        if self.keyword("if") {
            self.expect("(");
            decl.condition = Some(self.expr());
            self.expect(")");
        }
        self.skip(false);
        if !self.rest().starts_with('{') {
            self.fail("a body `{…}`");
        }
        decl.value = Some(self.primary());
        if looped {
            self.skip(true);
            self.expect("]");
        }
    }

    fn expr(&mut self) -> Expr {
        let condition = self.binary();
        if !self.eat("?") {
            return condition;
        }
        let then = self.expr();
        self.expect(":");
        let otherwise = self.expr();
        let loc = condition.loc;
        let kind = Kind::Ternary(Box::new(condition), Box::new(then), Box::new(otherwise));
        Expr { loc, kind }
    }

    fn binary(&mut self) -> Expr {
        let left = self.unary();
        let Some(op) = ["==", "!="].into_iter().find(|op| self.eat(op)) else {
            return left;
        };
        let right = self.unary();
        let loc = left.loc;
        let kind = Kind::Binary(Box::new(left), op, Box::new(right));
        Expr { loc, kind }
    }

    /// `!`, then a primary with its `.name`, `[index]` and `(args)`.
    fn unary(&mut self) -> Expr {
        self.skip(false);
        let loc = self.loc();
        if self.eat("!") {
            let kind = Kind::Not(Box::new(self.unary()));
            return Expr { loc, kind };
        }
        let mut expr = self.primary();
        loop {
            let inner = Box::new(expr);
            let kind = if self.eat(".") {
                Kind::Member(inner, self.name("a property name"))
            } else if self.eat("[") {
                self.skip(true);
                let index = Box::new(self.expr());
                self.skip(true);
                self.expect("]");
                Kind::Index(inner, index)
            } else if self.eat("(") {
                Kind::Call(inner, self.sequence(")", false, Self::expr))
            } else {
                return *inner;
            };
            expr = Expr { loc, kind };
        }
    }

    fn primary(&mut self) -> Expr {
        self.skip(false);
        let (loc, rest) = (self.loc(), self.rest());
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let kind = if rest.starts_with('\'') {
            Kind::Str(self.string())
        } else if digits > 0 {
            self.at += digits;
            Kind::Literal(rest[..digits].to_owned())
        } else if self.eat("[") {
            Kind::Array(self.sequence("]", true, Self::expr))
        } else if self.eat("{") {
            let entries = self.sequence("}", true, Self::entry);
            for (index, (key, value)) in entries.iter().enumerate() {
                if entries[..index].iter().any(|(before, _)| before == key) {
                    panic!("{}: key `{key}` given twice", value.loc);
                }
            }
            Kind::Object(entries)
        } else {
            match self.ident() {
                Some(word) if ["true", "false", "null"].contains(&word.as_str()) => {
                    Kind::Literal(word)
                }
                Some(word) if word == "for" || word == "if" => {
                    self.at -= word.len();
                    self.fail("an expression (`for` and `if` are read only in a resource)")
                }
                Some(word) if self.eat("=>") => Kind::Lambda(word, Box::new(self.expr())),
                Some(word) => Kind::Name(word),
                None => self.fail("an expression"),
            }
        };
        Expr { loc, kind }
    }

    /// An object's `key: value`.
    fn entry(&mut self) -> (String, Expr) {
        let key = self.name("a key");
        self.expect(":");
        (key, self.expr())
    }

    /// Items up to `close`, split by commas, and also by line breaks if `by_line` (arrays and
    /// objects; a call's arguments need commas even over many lines).
    fn sequence<T>(&mut self, close: &str, by_line: bool, item: fn(&mut Self) -> T) -> Vec<T> {
        let mut items = Vec::new();
        loop {
            self.skip(true);
            if self.eat(close) {
                return items;
            } else if self.rest().is_empty() {
                self.fail(&format!("`{close}`"));
            }
            items.push(item(self));
            self.skip(!by_line);
            let next = self.rest();
            if !(self.eat(",") || next.starts_with('\n') || next.starts_with(close)) {
                self.fail(&format!("`,`, a line break or `{close}`"));
            }
        }
    }

    /// A string's pieces, from its opening quote.
    fn string(&mut self) -> Vec<Piece> {
        if self.rest().starts_with("'''") {
            self.fail("a one-line string (`'''` strings are not read)");
        }
        self.at += 1;
        let (mut pieces, mut text) = (Vec::new(), String::new());
        loop {
            let Some(c) = self.rest().chars().next().filter(|c| *c != '\n') else {
                self.fail("`'` before the end of the line");
            };
            self.at += c.len_utf8();
            match c {
                '\'' => break,
                '\\' => {
                    let escaped = match self.rest().chars().next() {
                        Some(c @ ('\\' | '\'' | '$')) => c,
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        _ => self.fail("one of the escapes \\\\ \\' \\$ \\n \\r \\t"),
                    };
                    self.at += 1;
                    text.push(escaped);
                }
                '$' if self.rest().starts_with('{') => {
                    self.at += 1;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    self.skip(true);
                    pieces.push(Piece::Code(self.expr()));
                    self.skip(true);
                    self.expect("}");
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use crate::bicep::Template;

    #[test]
    fn prints_what_it_reads_on_one_canonical_line() {
        let source = "var a = {\n  b: [\n    'x${y.z[0]}\\''\n  ]\n  c: !p == 'q' ? f(1, r => r) : null\n}\n";
        let expected = "{ b: ['x${y.z[0]}\\''], c: !p == 'q' ? f(1, r => r) : null }";
        Template::parse("t.bicep", source).check("a", expected);
    }

    /// Each source, and the start of the message reading it must panic with.
    const REFUSED: [(&str, &str); 5] = [
        (
            "var a = { b: [1\n]]",
            "t.bicep:2: expected `,`, a line break or `}`, found `]`",
        ),
        ("var a = [\n  1\n", "t.bicep:3: expected `]`, found ``"),
        (
            "var a = 'b\n'",
            "t.bicep:1: expected `'` before the end of the line",
        ),
        (
            "module m './m.bicep' = {}",
            "t.bicep:1: expected `param`, `var`, `resource` or",
        ),
        (
            "var a = b + 1",
            "t.bicep:1: expected the end of the line, found `+ 1`",
        ),
    ];

    #[test]
    fn refuses_what_it_does_not_read() {
        for (source, expected) in REFUSED {
            let panic = std::panic::catch_unwind(|| Template::parse("t.bicep", source));
            let panic = panic.expect_err(source);
            let message = panic.downcast_ref::<String>().map_or("", String::as_str);
            assert!(message.starts_with(expected), "{source:?}: {message}");
        }
    }
}
