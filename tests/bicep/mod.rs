//! A reader for the subset of Bicep that `deploy/main.bicep` is written in, so tests can check the
//! template where the Bicep compiler cannot be installed. It turns the text into declarations
//! ([`Decl`]) holding expression trees ([`Expr`]). An `Expr` prints on one canonical line
//! (`{ name: 'FC1', tier: 'FlexConsumption' }`, `isFlex ? flexAppConfig : null`), and the checks
//! compare against that.
//!
//! # Layout
//!
//! - `mod.rs`: the tree, what the checks ask of it, and how it prints;
//! - `parse.rs`: the parser, straight over the text, with tests of what it refuses.
//!
//! # What it reads
//!
//! - `param NAME TYPE [= EXPR]`, `var NAME = EXPR` and `output NAME TYPE = EXPR`, where TYPE is
//!   one word (`string`, `int`, `bool`, `array`, `object`), each under its `@name(…)` decorators;
//! - `resource NAME 'TYPE@API' [existing] = BODY`, where BODY is `{…}`, `if (COND) {…}`,
//!   `[for ITEM in EXPR: {…}]` or `[for ITEM in EXPR: if (COND) {…}]`;
//! - expressions: strings with `${…}` and the escapes `\\ \' \$ \n \r \t`, whole numbers, `true`,
//!   `false`, `null`, names, `a.b`, `a[i]`, calls `f(…)` and `a.f(…)`, `!`, one `==` or `!=`,
//!   `c ? a : b`, one-parameter lambdas `x => …`, and objects (keys that are names) and arrays,
//!   either on one line with commas or over many lines, one item a line;
//! - `//` comments.
//!
//! # What it does not do
//!
//! It is not a Bicep compiler: it checks no types, resolves no names (a misspelt symbol reads
//! fine), follows no modules, knows no resource schema, and evaluates nothing beyond what
//! [`Template::items`] and [`Template::decide`] say. It refuses `module`, `import`, `type`, `func`,
//! `metadata`, `targetScope` and `extension` declarations, `/* */` comments, `'''` strings,
//! `\u{…}` escapes, parentheses around expressions, `&&`, `||`, arithmetic and ordering
//! (`+ - * / % < <= > >=`), `??`, `?.`, the non-null `!`, quoted object keys, types of more than
//! one word (`string[]`, unions), `for` outside a resource body, `for (item, index)`, and lambdas
//! of several parameters. On those, and on a bracket or a string that does not close, it panics
//! with the file and line: a template it cannot read fails the tests, and is never misread into
//! passing them.

#![allow(unreachable_pub)]

mod parse;

use std::{collections::BTreeSet, fmt, fs, path::Path};

/// Where something starts: `deploy/main.bicep:42`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Loc {
    pub file: &'static str,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug)]
pub struct Expr {
    pub loc: Loc,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    Str(Vec<Piece>),
    /// A number, `true`, `false` or `null`.
    Literal(String),
    Name(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Not(Box<Expr>),
    Binary(Box<Expr>, &'static str, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda(String, Box<Expr>),
    Array(Vec<Expr>),
    /// Entries in the order written; a key given twice is refused.
    Object(Vec<(String, Expr)>),
}

/// A run of a string: literal text (escapes undone) or a `${…}` interpolation.
#[derive(Debug)]
pub enum Piece {
    Text(String),
    Code(Expr),
}

/// A `param`, `var`, `resource` or `output` declaration. A resource's `name` is its symbol (not
/// its `name` property), its `ty` its type without the API version, its `value` its body; a
/// param's `value` is its default. `decorators` are read as calls (`allowed([…])`); `for_each` is
/// a resource's `[for ITEM in EXPR: …]` (the item's name and what it runs over) and `condition`
/// its `if (COND)`.
#[derive(Debug, Default)]
pub struct Decl {
    pub keyword: String,
    pub name: String,
    pub ty: String,
    pub api_version: String,
    pub existing: bool,
    pub for_each: Option<(String, Expr)>,
    pub condition: Option<Expr>,
    pub value: Option<Expr>,
    pub decorators: Vec<Expr>,
    pub loc: Loc,
}

/// A template, read whole.
#[derive(Debug)]
pub struct Template {
    pub file: &'static str,
    pub decls: Vec<Decl>,
}

impl Template {
    /// Reads `relative` (to the package root) and parses it.
    pub fn read(relative: &'static str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        let source = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{relative}: cannot read {}: {error}", path.display()));
        Self::parse(relative, &source)
    }

    /// Parses `source`, named `file` in messages; panics, with a line, where it cannot.
    pub fn parse(file: &'static str, source: &str) -> Self {
        let decls = parse::decls(file, source);
        let mut seen = BTreeSet::new();
        for decl in &decls {
            // Outputs are named apart; params, vars and resources share one set of names.
            let (outputs, name) = (decl.keyword == "output", &decl.name);
            let first = seen.insert((outputs, name));
            assert!(first, "{}: `{name}` is declared twice", decl.loc);
        }
        Self { file, decls }
    }

    /// The declarations made with `keyword`, in order.
    pub fn all<'t>(&'t self, keyword: &str) -> impl Iterator<Item = &'t Decl> {
        let decls = self.decls.iter();
        decls.filter(move |decl| decl.keyword == keyword)
    }

    /// The declaration `keyword name`; panics if there is none.
    pub fn decl(&self, keyword: &str, name: &str) -> &Decl {
        let found = self.all(keyword).find(|decl| decl.name == name);
        found.unwrap_or_else(|| panic!("{}: no `{keyword} {name}`", self.file))
    }

    pub fn param(&self, name: &str) -> &Decl {
        self.decl("param", name)
    }

    pub fn resource(&self, symbol: &str) -> &Decl {
        self.decl("resource", symbol)
    }

    /// The expression at `path`: the name of a param (for its default), a var or a resource,
    /// then keys into its value, dot-separated (`functionApp.properties.siteConfig`).
    pub fn at(&self, path: &str) -> &Expr {
        let (head, keys) = path.split_once('.').unwrap_or((path, ""));
        let mut decls = self.decls.iter().filter(|decl| decl.keyword != "output");
        let decl = decls.find(|decl| decl.name == head);
        let decl = decl.unwrap_or_else(|| panic!("{}: nothing is named `{head}`", self.file));
        decl.value().at(keys)
    }

    /// Asserts that the expression at `path` (see [`Template::at`]) prints as `expected`.
    #[track_caller]
    pub fn check(&self, path: &str, expected: &str) {
        let found = self.at(path);
        assert_eq!(found.to_string(), expected, "{}: `{path}`", found.loc);
    }

    /// [`Template::check`] on each row of `rows` (see [`table`]): a path, then the expression.
    #[track_caller]
    pub fn check_all(&self, rows: &str) {
        for (path, expected) in table(rows) {
            self.check(path, expected);
        }
    }

    /// The items of an array once `bindings` give some names a string: `[…]`, a var holding
    /// one, `concat(…)` of them, and `c ? a : b` where [`Template::decide`] decides `c`.
    pub fn items<'t>(&'t self, expr: &'t Expr, bindings: &[(&str, &str)]) -> Vec<&'t Expr> {
        let items = |expr| self.items(expr, bindings);
        match &expr.kind {
            Kind::Array(list) => list.iter().collect(),
            Kind::Name(name) if self.is_var(name) => items(self.at(name)),
            Kind::Ternary(condition, then, otherwise) => match self.decide(condition, bindings) {
                true => items(then),
                false => items(otherwise),
            },
            Kind::Call(function, args) if function.to_string() == "concat" => {
                args.iter().flat_map(items).collect()
            }
            _ => panic!("{}: cannot list the items of `{expr}`", expr.loc),
        }
    }

    /// Whether a condition holds once `bindings` give some names a string: `true`, `false`, `!`,
    /// a var holding a condition, and `==` or `!=` between plain strings, bound names and vars
    /// holding either.
    pub fn decide(&self, expr: &Expr, bindings: &[(&str, &str)]) -> bool {
        match &expr.kind {
            Kind::Literal(word) if word == "true" || word == "false" => word == "true",
            Kind::Not(inner) => !self.decide(inner, bindings),
            Kind::Name(name) if self.is_var(name) => self.decide(self.at(name), bindings),
            Kind::Binary(left, op, right) => {
                (self.word(left, bindings) == self.word(right, bindings)) == (*op == "==")
            }
            _ => panic!("{}: cannot decide `{expr}`", expr.loc),
        }
    }

    fn word<'t>(&'t self, expr: &'t Expr, bindings: &[(&str, &'t str)]) -> &'t str {
        match &expr.kind {
            Kind::Name(name) if self.is_var(name) => self.word(self.at(name), bindings),
            Kind::Name(name) => {
                let bound = bindings.iter().find(|(bound, _)| bound == name);
                let value = bound.map(|(_, value)| *value);
                value.unwrap_or_else(|| panic!("{}: `{name}` has no value here", expr.loc))
            }
            _ => (expr.text()).unwrap_or_else(|| panic!("{}: cannot compare `{expr}`", expr.loc)),
        }
    }

    fn is_var(&self, name: &str) -> bool {
        self.all("var").any(|decl| decl.name == name)
    }
}

impl Decl {
    /// The declaration's value (a param's default, a resource's body); panics if it has none.
    pub fn value(&self) -> &Expr {
        let value = self.value.as_ref();
        value.unwrap_or_else(|| panic!("{}: `{}` has no value", self.loc, self.name))
    }

    /// The arguments of decorator `@name(…)`, if it has one.
    pub fn decorator(&self, name: &str) -> Option<&[Expr]> {
        let mut calls = self
            .decorators
            .iter()
            .map(|decorator| match &decorator.kind {
                Kind::Call(function, args) => (function.to_string(), args.as_slice()),
                _ => panic!("{}: a decorator is `@name(…)`", decorator.loc),
            });
        calls
            .find(|(function, _)| function == name)
            .map(|(_, args)| args)
    }

    /// The text of `@description('…')`, if it has one with a plain string.
    pub fn description(&self) -> Option<&str> {
        match self.decorator("description")? {
            [text] => text.text(),
            _ => None,
        }
    }

    /// The strings `@allowed([…])` lists; panics if there is none, or on anything but strings.
    pub fn allowed(&self) -> BTreeSet<String> {
        let Some([list]) = self.decorator("allowed") else {
            panic!("{}: `{}` needs @allowed([…])", self.loc, self.name)
        };
        let text = |item: &Expr| item.text().map(str::to_owned);
        let strings = list.items().iter().map(|item| {
            text(item).unwrap_or_else(|| panic!("{}: `{item}` is not a plain string", item.loc))
        });
        strings.collect()
    }
}

impl Expr {
    /// The value at `path`, dot-separated keys into nested objects (`""` is `self`).
    pub fn at(&self, path: &str) -> &Expr {
        let keys = path.split('.').filter(|key| !key.is_empty());
        keys.fold(self, |object, key| {
            let entry = object.entries().iter().find(|(name, _)| name == key);
            let value = entry.map(|(_, value)| value);
            value.unwrap_or_else(|| panic!("{}: the object has no `{key}`", object.loc))
        })
    }

    /// An object's entries; panics on anything else.
    pub fn entries(&self) -> &[(String, Expr)] {
        match &self.kind {
            Kind::Object(entries) => entries,
            _ => panic!("{}: `{self}` is not an object", self.loc),
        }
    }

    pub fn keys(&self) -> BTreeSet<String> {
        self.entries().iter().map(|(key, _)| key.clone()).collect()
    }

    /// An array's items; panics on anything else.
    pub fn items(&self) -> &[Expr] {
        match &self.kind {
            Kind::Array(items) => items,
            _ => panic!("{}: `{self}` is not an array", self.loc),
        }
    }

    /// The text of a string without interpolation.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(pieces) => match pieces.as_slice() {
                [] => Some(""),
                [Piece::Text(text)] => Some(text),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The rows of a table written in a string: each line that is neither blank nor a `//` comment,
/// split at its first space into a word and the rest.
pub fn table(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let rows = text.lines().map(str::trim);
    let rows = rows.filter(|line| !line.is_empty() && !line.starts_with("//"));
    rows.map(|row| {
        row.split_once(' ')
            .map_or((row, ""), |(word, rest)| (word, rest.trim_start()))
    })
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: &[Expr]| items.iter().map(Expr::to_string).collect::<Vec<_>>();
        match &self.kind {
            Kind::Str(pieces) => {
                let escapes = [("\\", "\\\\"), ("'", "\\'"), ("${", "\\${"), ("\n", "\\n")];
                let escape = |text: &str| {
                    let text = escapes
                        .iter()
                        .fold(text.to_owned(), |t, (c, e)| t.replace(c, e));
                    text.replace('\r', "\\r").replace('\t', "\\t")
                };
                let piece = |piece: &Piece| match piece {
                    Piece::Text(text) => escape(text),
                    Piece::Code(code) => format!("${{{code}}}"),
                };
                write!(f, "'{}'", pieces.iter().map(piece).collect::<String>())
            }
            Kind::Literal(word) | Kind::Name(word) => f.write_str(word),
            Kind::Member(object, name) => write!(f, "{object}.{name}"),
            Kind::Index(array, index) => write!(f, "{array}[{index}]"),
            Kind::Call(function, args) => write!(f, "{function}({})", list(args).join(", ")),
            Kind::Not(inner) => write!(f, "!{inner}"),
            Kind::Binary(left, op, right) => write!(f, "{left} {op} {right}"),
            Kind::Ternary(condition, then, or) => write!(f, "{condition} ? {then} : {or}"),
            Kind::Lambda(parameter, body) => write!(f, "{parameter} => {body}"),
            Kind::Array(items) => write!(f, "[{}]", list(items).join(", ")),
            Kind::Object(entries) if entries.is_empty() => f.write_str("{}"),
            Kind::Object(entries) => {
                let entries = entries.iter().map(|(key, value)| format!("{key}: {value}"));
                write!(f, "{{ {} }}", entries.collect::<Vec<_>>().join(", "))
            }
        }
    }
}
