//! The browser side of the card tests: Debian's Chromium and the Node harness in this folder
//! (Microsoft's `adaptivecards` renderer, `markdown-it`, `puppeteer-core`), installed when
//! missing, and one run of `render.mjs` over every posted message, read back as [`Rendered`].
//!
//! Chromium comes from apt (`apt-get install chromium`) and the Node packages from the committed
//! `package-lock.json` (`npm ci`, again only when the lock changed since the last install), so
//! a machine that has them pays nothing. Nothing is downloaded from anywhere else: puppeteer
//! drives the Debian browser and is told not to fetch its own.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use serde::Deserialize;

/// The Debian packages the cards are rendered with: the browser, and a font for the emoji an
/// error may hold (without it they show as boxes in the screenshots).
const PACKAGES: [&str; 2] = ["chromium", "fonts-noto-color-emoji"];

/// Where the installed lock is kept, to tell whether `npm ci` must run again.
const INSTALLED_LOCK: &str = "node_modules/.installed-package-lock.json";

/// What the page showed for one message (see `page.js`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rendered {
    /// The message file's name without `.json`: the kind of notice.
    pub(crate) name: String,
    /// The renderer's parse and validation messages, and any error the page raised.
    pub(crate) problems: Vec<String>,
    /// The card's visible text, as `innerText` gives it (one line per rendered line break).
    #[serde(default)]
    pub(crate) text: String,
    /// Every `a[href]` in the card.
    #[serde(default)]
    pub(crate) anchors: Vec<Anchor>,
    /// Elements whose content is wider or taller than their box, or outside the card.
    #[serde(default)]
    pub(crate) overflows: Vec<Overflow>,
    /// The most prominent text.
    pub(crate) title: Option<Text>,
    /// The first block with a background of its own, when there is one.
    pub(crate) band: Option<Band>,
    /// What Markdown made of the texts: `strong`, `em`, lists.
    #[serde(default)]
    pub(crate) markup: Vec<Markup>,
    /// Each visible button, and what pressing it did.
    #[serde(default)]
    pub(crate) buttons: Vec<Button>,
    /// Every `Action.OpenUrl` in the card's JSON, shown or not.
    #[serde(default)]
    pub(crate) open_urls: Vec<OpenUrl>,
    /// Every request the page tried to make for the card (all refused).
    #[serde(default)]
    pub(crate) requests: Vec<String>,
}

/// A link in the card's text.
#[derive(Debug, Deserialize)]
pub(crate) struct Anchor {
    pub(crate) href: String,
    pub(crate) text: String,
}

/// An element whose content does not fit.
#[derive(Debug, Deserialize)]
pub(crate) struct Overflow {
    pub(crate) element: String,
    pub(crate) text: String,
    pub(crate) why: String,
}

/// A text as painted: its words, size and colours (opaque RGB).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Text {
    pub(crate) text: String,
    pub(crate) color: [u8; 3],
    pub(crate) background: [u8; 3],
    /// Rendered lines (the title only).
    pub(crate) lines: Option<u32>,
}

/// The texts in the band.
#[derive(Debug, Deserialize)]
pub(crate) struct Band {
    pub(crate) texts: Vec<Text>,
}

/// An element Markdown made.
#[derive(Debug, Deserialize)]
pub(crate) struct Markup {
    pub(crate) tag: String,
    pub(crate) text: String,
}

/// A button and the actions pressing it ran.
#[derive(Debug, Deserialize)]
pub(crate) struct Button {
    pub(crate) label: String,
    pub(crate) actions: Vec<Pressed>,
}

/// An action a button ran.
#[derive(Debug, Deserialize)]
pub(crate) struct Pressed {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) url: Option<String>,
}

/// An `Action.OpenUrl` of the card's JSON.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenUrl {
    pub(crate) title: Option<String>,
    pub(crate) url: Option<String>,
}

/// This folder: the Node harness.
fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cards")
}

/// Debian's Chromium (or `CHROMIUM`), installed with apt when missing, with the emoji font;
/// why not, when it is missing and apt cannot install it here (no apt, not root, ...).
pub(crate) fn chromium() -> Result<PathBuf, String> {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    let missing: Vec<&str> = PACKAGES
        .into_iter()
        .filter(|package| !installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(chromium);
    }
    let started = Instant::now();
    let install = || apt_get(&["install", "-y"], &missing);
    // A fresh machine's package lists may be missing or stale: update once, then try again.
    match install().or_else(|_| apt_get(&["update"], &[]).and_then(|()| install())) {
        Ok(()) => {
            let took = started.elapsed().as_secs_f64();
            eprintln!(
                "cards: installed {} with apt in {took:.1} s",
                missing.join(", ")
            );
            Ok(chromium)
        }
        Err(why) if chromium.exists() => {
            eprintln!("cards: {why}; screenshots may show emoji as boxes");
            Ok(chromium)
        }
        Err(why) => Err(format!(
            "Chromium is not at {} and could not be installed: {why}",
            chromium.display()
        )),
    }
}

/// Whether a Debian package is installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["--show", "--showformat=${db:Status-Status}", package])
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout == b"installed")
}

fn apt_get(args: &[&str], packages: &[&str]) -> Result<(), String> {
    let output = Command::new("apt-get")
        .args(args)
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|err| format!("apt-get could not be run ({err})"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let command = format!("apt-get {} {}", args.join(" "), packages.join(" "));
    Err(format!(
        "`{}` exited with {}: {}",
        command.trim(),
        output.status,
        stderr.trim()
    ))
}

/// `npm ci` in this folder, unless `node_modules` was installed from the same lock.
pub(crate) fn node_modules() {
    let dir = harness();
    let lock = std::fs::read(dir.join("package-lock.json")).expect("tests/cards/package-lock.json");
    if std::fs::read(dir.join(INSTALLED_LOCK)).is_ok_and(|installed| installed == lock) {
        return;
    }
    let started = Instant::now();
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        // puppeteer drives Debian's Chromium; it must not fetch a browser of its own.
        .env("PUPPETEER_SKIP_DOWNLOAD", "1")
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "the card tests render with Node packages, installed with npm, and `npm` could \
                 not be run ({err}): install Node.js and npm (e.g. `apt-get install nodejs npm`)"
            )
        });
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(dir.join(INSTALLED_LOCK), lock).expect("the installed lock is recorded");
    eprintln!("cards: npm ci in {:.1} s", started.elapsed().as_secs_f64());
}

/// Renders each message file in one Chromium: one report per file, in order, and
/// `<out>/<name>.png` for each.
pub(crate) fn render(chromium: &Path, out: &Path, messages: &[PathBuf]) -> Vec<Rendered> {
    let started = Instant::now();
    let output = Command::new("node")
        .arg(harness().join("render.mjs"))
        .arg(out)
        .args(messages)
        .env("CHROMIUM", chromium)
        .output()
        .expect("node runs render.mjs");
    assert!(
        output.status.success(),
        "render.mjs failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "cards: {} cards rendered in {:.1} s",
        messages.len(),
        started.elapsed().as_secs_f64()
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "render.mjs printed no reports ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
