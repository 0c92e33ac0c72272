//! The house's one rule of structure: no import circle between files. Every path a file names
//! (`use crate::a::B`, `super::C`, `matcher::Asks`, `crate::x::y()` in code) is resolved to the
//! file that defines what it names (through `pub use` re-exports), and the files must form a
//! graph without cycles: every arrow points down, from what uses to what is used. Declaring a
//! module (`mod x;`) is the tree itself, not an import.
//!
//! Files are read with `syn` (the Rust parser proc macros use), so a path in a type, an
//! expression, a pattern or a `use` tree all count, inline modules (`mod tests { ... }`)
//! included; macro bodies are not read.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

/// One crate: its root file.
struct Crate {
    name: &'static str,
    root: PathBuf,
}

/// A module: the file it lives in, and the items and re-exports defined there.
#[derive(Debug, Default, Clone)]
struct Module {
    file: PathBuf,
    /// Items defined in the module (functions, types, consts, ...).
    items: BTreeSet<String>,
    /// `pub use` re-exports: the name and the path it stands for (absolute, from `crate`).
    reexports: BTreeMap<String, Vec<String>>,
    /// Child modules, by name.
    children: BTreeSet<String>,
}

/// Every module of a crate, by its path from `crate` (`["crate", "routes", "file"]`).
type Modules = BTreeMap<Vec<String>, Module>;

fn modules(krate: &Crate) -> Modules {
    let mut modules = Modules::new();
    let root = vec!["crate".to_owned()];
    read_file(&krate.root, &root, true, &mut modules);
    modules
}

/// Reads the module at `path` from `file` (a crate root or `mod.rs` owns its folder).
fn read_file(file: &Path, path: &[String], owns_folder: bool, modules: &mut Modules) {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
    let folder = if owns_folder {
        file.parent().unwrap().to_path_buf()
    } else {
        file.with_extension("")
    };
    read_items(&parsed.items, file, &folder, path, modules);
}

fn read_items(
    items: &[syn::Item],
    file: &Path,
    folder: &Path,
    path: &[String],
    modules: &mut Modules,
) {
    let mut module = Module {
        file: file.to_path_buf(),
        ..Module::default()
    };
    for item in items {
        match item {
            syn::Item::Mod(child) => {
                let name = child.ident.to_string();
                module.children.insert(name.clone());
                let mut child_path = path.to_vec();
                child_path.push(name.clone());
                match &child.content {
                    Some((_, inner)) => {
                        read_items(inner, file, &folder.join(&name), &child_path, modules)
                    }
                    None => {
                        let explicit = child.attrs.iter().find_map(path_attribute);
                        let (child_file, owns) = match explicit {
                            Some(relative) => (folder.join(relative), false),
                            None if folder.join(&name).join("mod.rs").exists() => {
                                (folder.join(&name).join("mod.rs"), true)
                            }
                            None => (folder.join(format!("{name}.rs")), false),
                        };
                        read_file(&child_file, &child_path, owns, modules);
                    }
                }
            }
            syn::Item::Use(used)
                if matches!(
                    used.vis,
                    syn::Visibility::Public(_) | syn::Visibility::Restricted(_)
                ) =>
            {
                for (name, target) in use_paths(&used.tree, Vec::new()) {
                    if let Some(name) = name {
                        module
                            .reexports
                            .insert(name, absolute(&target, path, &module));
                    }
                }
            }
            other => {
                if let Some(name) = item_name(other) {
                    module.items.insert(name);
                }
            }
        }
    }
    modules.insert(path.to_vec(), module);
}

/// `#[path = "..."]`.
fn path_attribute(attribute: &syn::Attribute) -> Option<String> {
    let syn::Meta::NameValue(value) = &attribute.meta else {
        return None;
    };
    if !value.path.is_ident("path") {
        return None;
    }
    match &value.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(item) => &item.ident,
        syn::Item::Enum(item) => &item.ident,
        syn::Item::Fn(item) => &item.sig.ident,
        syn::Item::Static(item) => &item.ident,
        syn::Item::Struct(item) => &item.ident,
        syn::Item::Trait(item) => &item.ident,
        syn::Item::Type(item) => &item.ident,
        syn::Item::Union(item) => &item.ident,
        syn::Item::Macro(item) => item.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

/// The paths of a `use` tree: `(the name it brings in, the path)`.
fn use_paths(tree: &syn::UseTree, prefix: Vec<String>) -> Vec<(Option<String>, Vec<String>)> {
    match tree {
        syn::UseTree::Path(path) => {
            let mut prefix = prefix;
            prefix.push(path.ident.to_string());
            use_paths(&path.tree, prefix)
        }
        syn::UseTree::Name(name) => {
            let mut full = prefix;
            let ident = name.ident.to_string();
            if ident == "self" {
                let last = full.last().cloned();
                return vec![(last, full)];
            }
            full.push(ident.clone());
            vec![(Some(ident), full)]
        }
        syn::UseTree::Rename(rename) => {
            let mut full = prefix;
            full.push(rename.ident.to_string());
            vec![(Some(rename.rename.to_string()), full)]
        }
        syn::UseTree::Glob(_) => vec![(None, prefix)],
        syn::UseTree::Group(group) => group
            .items
            .iter()
            .flat_map(|tree| use_paths(tree, prefix.clone()))
            .collect(),
    }
}

/// `path` as written in module `at`, from `crate`: `super`, `self` and a child's name resolved;
/// an extern crate's path stays as it is (its first segment is not `crate`).
fn absolute(path: &[String], at: &[String], module: &Module) -> Vec<String> {
    let Some(first) = path.first() else {
        return at.to_vec();
    };
    match first.as_str() {
        "crate" => path.to_vec(),
        "self" => at.iter().chain(&path[1..]).cloned().collect(),
        "super" => {
            let mut base = at.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base.into_iter().chain(rest.iter().cloned()).collect()
        }
        name if module.children.contains(name) || module.items.contains(name) => {
            at.iter().chain(path).cloned().collect()
        }
        _ => path.to_vec(),
    }
}

/// The file that defines what `path` (from `crate`) names, following re-exports.
fn defining_file(path: &[String], modules: &Modules, depth: usize) -> Option<PathBuf> {
    if path.first().map(String::as_str) != Some("crate") || depth > 16 {
        return None;
    }
    // The longest prefix that is a module.
    let mut end = path.len();
    while end > 0 && !modules.contains_key(&path[..end]) {
        end -= 1;
    }
    let module = modules.get(&path[..end])?;
    match path.get(end) {
        Some(item) if !module.items.contains(item) => match module.reexports.get(item) {
            Some(target) => {
                let target: Vec<String> = target.iter().chain(&path[end + 1..]).cloned().collect();
                defining_file(&target, modules, depth + 1).or_else(|| Some(module.file.clone()))
            }
            None => Some(module.file.clone()),
        },
        _ => Some(module.file.clone()),
    }
}

/// Every path a file's code names, with the module it is named in.
struct Paths {
    at: Vec<String>,
    found: Vec<(Vec<String>, Vec<String>)>,
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.at.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.at.pop();
        }
    }

    fn visit_item_use(&mut self, used: &'ast syn::ItemUse) {
        for (_, path) in use_paths(&used.tree, Vec::new()) {
            self.found.push((self.at.clone(), path));
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            let segments = path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            self.found.push((self.at.clone(), segments));
        }
        syn::visit::visit_path(self, path);
    }
}

/// The import arrows between files of `krate`.
fn arrows(krate: &Crate) -> BTreeSet<(PathBuf, PathBuf)> {
    let modules = modules(krate);
    let mut arrows = BTreeSet::new();
    let files: BTreeSet<(PathBuf, Vec<String>)> = modules
        .iter()
        .map(|(path, module)| (module.file.clone(), path.clone()))
        .collect();
    let mut read = BTreeSet::new();
    for (file, path) in files {
        if !read.insert(file.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = syn::parse_file(&text).unwrap();
        let mut paths = Paths {
            at: path.clone(),
            found: Vec::new(),
        };
        paths.visit_file(&parsed);
        for (at, named) in paths.found {
            let Some(module) = modules.get(&at) else {
                continue;
            };
            let full = absolute(&named, &at, module);
            if let Some(target) = defining_file(&full, &modules, 0)
                && target != file
            {
                arrows.insert((file.clone(), target));
            }
        }
    }
    arrows
}

/// The cycles among `arrows`: each strongly connected set of two or more files.
fn cycles(arrows: &BTreeSet<(PathBuf, PathBuf)>) -> Vec<BTreeSet<PathBuf>> {
    let mut from: BTreeMap<&PathBuf, Vec<&PathBuf>> = BTreeMap::new();
    for (source, target) in arrows {
        from.entry(source).or_default().push(target);
        from.entry(target).or_default();
    }
    let reaches = |start: &PathBuf| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(file) = stack.pop() {
            for next in &from[file] {
                if seen.insert((*next).clone()) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&PathBuf, BTreeSet<PathBuf>> =
        from.keys().map(|file| (*file, reaches(file))).collect();
    let mut found: Vec<BTreeSet<PathBuf>> = Vec::new();
    for file in from.keys() {
        if !reach[file].contains(*file) || found.iter().any(|cycle| cycle.contains(*file)) {
            continue;
        }
        let cycle: BTreeSet<PathBuf> = reach[file]
            .iter()
            .filter(|other| reach[other].contains(*file))
            .cloned()
            .collect();
        found.push(cycle);
    }
    found
}

fn crates() -> Vec<Crate> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        Crate {
            name: "aml-events",
            root: root.join("aml-events/src/lib.rs"),
        },
        Crate {
            name: "aml-handlers (library)",
            root: root.join("handlers/src/lib.rs"),
        },
        Crate {
            name: "aml-handlers (binary)",
            root: root.join("handlers/src/main.rs"),
        },
    ]
}

#[test]
fn no_import_circle_between_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let shown = |file: &PathBuf| {
        file.strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string()
    };
    for krate in crates() {
        let arrows = arrows(&krate);
        for cycle in cycles(&arrows) {
            let files: Vec<String> = cycle.iter().map(shown).collect();
            found.push(format!("{}: {}", krate.name, files.join(" <-> ")));
            // The arrows inside the circle, to see which import to move.
            for (source, target) in &arrows {
                if cycle.contains(source) && cycle.contains(target) {
                    found.push(format!("    {} -> {}", shown(source), shown(target)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "import circles between files:\n{}",
        found.join("\n")
    );
}

/// The checker sees a circle when there is one, and none when there is none.
#[test]
fn the_checker_finds_a_circle() {
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(
        dir.join("lib.rs"),
        "pub mod a; pub mod b; pub use a::Thing;",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "pub struct Thing; pub fn f() { crate::b::g(); }",
    )
    .unwrap();
    std::fs::write(dir.join("b/mod.rs"), "pub mod c; pub fn g() {}").unwrap();
    std::fs::write(dir.join("b/c.rs"), "use crate::Thing; pub fn h() {}").unwrap();
    let krate = Crate {
        name: "test",
        root: dir.join("lib.rs"),
    };
    let first = arrows(&krate);
    assert!(
        first.contains(&(dir.join("b/c.rs"), dir.join("a.rs"))),
        "a re-export is followed: {first:?}"
    );
    assert!(cycles(&first).is_empty(), "{first:?}");
    std::fs::write(
        dir.join("b/mod.rs"),
        "pub mod c; pub fn g() { c::h(); } pub fn k() { crate::a::f(); }",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "pub struct Thing; pub fn f() { super::b::g(); }",
    )
    .unwrap();
    let found = cycles(&arrows(&krate));
    assert_eq!(found.len(), 1, "{found:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
