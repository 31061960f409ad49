//! The docs name only paths that exist: a repository rule written as a test
//! (as rust-analyzer's `xtask/src/tidy.rs` does), so that moving a file
//! without its docs fails `cargo test -p xtask`, and with it step 4 of
//! `cargo xtask test`.
//!
//! In README.md, CONTRIBUTING.md, CHANGELOG.md and `docs/*.md` it checks:
//! - every repository path in backticks: one under a folder of the
//!   repository (`src/…`, `gateway/…`, `docs/…`, …: [`FOLDERS`]) or a file at
//!   its top (`index.html`, `Cargo.toml`: [`TOP_LEVEL_EXTENSIONS`]), read
//!   from the repository's root;
//! - every relative link and image (`[text](docs/sync.md)`,
//!   `![alt](screenshot.png)`, `[x]: target`), read from the document's own
//!   folder, as a Markdown viewer does, and its `#section` when it names one;
//! - that README.md stays a page a person reads: at most [`README_MAX_LINES`].
//!
//! Not paths, so not checked: URLs; anything in a fenced code block (shell
//! commands, examples); code spans with spaces or placeholders
//! (`cargo xtask bundle`, `prompt-runs:v1:run:<id>`); and what only a build
//! makes (`dist/…`, `target/…`).

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The repository's folders: a code span starting with one of them names a
/// path from the root.
const FOLDERS: &[&str] = &[
    "src/",
    "cli/",
    "gateway/",
    "tests/",
    "e2e/",
    "xtask/",
    "examples/",
    "benches/",
    "docs/",
    "style/",
    ".ci/",
    ".cargo/",
];

/// A code span with no folder names a file at the top of the repository when
/// it ends with one of these (`index.html`, `Trunk.toml`, `first-paint.js`).
/// Source files (`app.rs`, `main.css`) are named by their folder's row or
/// sentence, so a bare name of theirs is not read as a top-level file.
const TOP_LEVEL_EXTENSIONS: &[&str] = &[".md", ".toml", ".html", ".js", ".json", ".lock"];

/// What only a build makes: a path through one of these is never checked.
const BUILD_OUTPUT: &[&str] = &["dist", "target"];

/// README.md's length: a newcomer's page, the rest in `docs/` (issue #23).
const README_MAX_LINES: usize = 300;

/// The documents checked, relative to the repository's root, in order.
fn documents(root: &Path) -> Vec<String> {
    let mut docs: Vec<String> = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut pages: Vec<String> = fs::read_dir(root.join("docs"))
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".md"))
                .map(|name| format!("docs/{name}"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    docs.extend(pages);
    docs
}

/// One name a document gives: where, and what it points at.
#[derive(Debug, PartialEq)]
struct Named {
    /// 1-based line of the document.
    line: usize,
    kind: Kind,
    /// As written: a path, or a link's target (`sync.md#history`).
    target: String,
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Kind {
    /// A path in backticks, from the repository's root.
    CodePath,
    /// A link or image target, from the document's folder.
    Link,
}

/// Every path and link target `text` names, outside fenced code blocks.
fn named(text: &str) -> Vec<Named> {
    let prose = without_fenced_blocks(text);
    let mut found = Vec::new();
    let mut line = 1;
    let mut rest = prose.as_str();
    // Code spans and inline links, in the order they come; a code span may
    // run over lines, as a sentence does.
    while let Some(at) = rest.find(['`', ']', '\n']) {
        let from = &rest[at..];
        if let Some(after) = from.strip_prefix('\n') {
            line += 1;
            rest = after;
        } else if let Some(after) = from.strip_prefix("](") {
            let target = after.split(')').next().unwrap_or_default();
            push_link(&mut found, line, target);
            line += target.matches('\n').count();
            rest = &after[target.len()..];
        } else if let Some(after) = from.strip_prefix(']') {
            rest = after;
        } else {
            let run = from.len() - from.trim_start_matches('`').len();
            let (fence, after) = from.split_at(run);
            match find_closing(after, fence) {
                Some(close) => {
                    let body = &after[..close];
                    if let Some(path) = code_path(body) {
                        found.push(Named {
                            line,
                            kind: Kind::CodePath,
                            target: path.to_owned(),
                        });
                    }
                    line += body.matches('\n').count();
                    rest = &after[close + run..];
                }
                // Backticks never closed are text.
                None => rest = after,
            }
        }
    }
    // Reference definitions: `[label]: target` on a line of its own.
    for (index, text_line) in prose.lines().enumerate() {
        let Some(label_on) = text_line.trim_start().strip_prefix('[') else {
            continue;
        };
        if let Some((label, target)) = label_on.split_once("]:") {
            if !label.contains(']') {
                push_link(&mut found, index + 1, target);
            }
        }
    }
    found.sort_by_key(|name| name.line);
    found
}

/// Where `fence` (a run of backticks) closes a code span in `rest`: a run of
/// exactly as many.
fn find_closing(rest: &str, fence: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(at) = rest[from..].find(fence).map(|n| from + n) {
        let end = at + fence.len();
        let longer_before = at > 0 && bytes[at - 1] == b'`';
        let longer_after = bytes.get(end) == Some(&b'`');
        if !longer_before && !longer_after {
            return Some(at);
        }
        from = rest[at..].find(|c| c != '`').map_or(rest.len(), |n| at + n);
    }
    None
}

/// `text` with every line of a fenced code block (``` or ~~~) blanked, so
/// line numbers stay as they are. A block closes at a line of the same
/// character, at least as many, and nothing else.
fn without_fenced_blocks(text: &str) -> String {
    let mut open: Option<(char, usize)> = None;
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let trimmed = line.trim();
        let first = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'));
        let marker = first.map(|c| (c, trimmed.chars().take_while(|&d| d == c).count()));
        match (open, marker) {
            (None, Some((c, len))) if len >= 3 => open = Some((c, len)),
            (Some((c, len)), Some((d, n))) if c == d && n >= len && n == trimmed.len() => {
                open = None
            }
            (None, _) => out.push_str(line),
            (Some(_), _) => {}
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// Adds a link's target, unless it is a URL.
fn push_link(found: &mut Vec<Named>, line: usize, raw: &str) {
    // `(<a b.md> "title")`, `(a.md "title")`: the target is the first part.
    let raw = raw.trim();
    let target = match raw.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or_default(),
        None => raw.split_whitespace().next().unwrap_or_default(),
    };
    let is_url = target.contains("://")
        || target.starts_with("//")
        || target.starts_with("mailto:")
        || target.is_empty();
    if !is_url {
        found.push(Named {
            line,
            kind: Kind::Link,
            target: target.to_owned(),
        });
    }
}

/// The repository path a code span names, if it names one.
fn code_path(body: &str) -> Option<&str> {
    let body = body.trim();
    let path_chars = body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !path_chars {
        return None;
    }
    let in_folder = FOLDERS.iter().any(|folder| body.starts_with(folder));
    // A name, not an extension alone (`.js`).
    let top_level = !body.contains('/')
        && !body.starts_with('.')
        && TOP_LEVEL_EXTENSIONS.iter().any(|ext| body.ends_with(ext));
    (in_folder || top_level).then_some(body)
}

/// What is wrong with the names `text` gives, one line each as
/// `document:line: …`. `document` is relative to `root`.
fn problems(root: &Path, document: &str, text: &str) -> Vec<String> {
    let folder = Path::new(document).parent().unwrap_or(Path::new(""));
    let mut headings = Headings::default();
    let mut found = Vec::new();
    for name in named(text) {
        let (path_part, section) = match name.kind {
            Kind::CodePath => (name.target.as_str(), None),
            Kind::Link => match name.target.split_once('#') {
                Some((path, section)) => (path, Some(section)),
                None => (name.target.as_str(), None),
            },
        };
        let base = match name.kind {
            Kind::CodePath => Path::new(""),
            Kind::Link => folder,
        };
        // `#section` alone is a section of this document, which exists.
        let this_document = path_part.is_empty();
        let relative = if this_document {
            PathBuf::from(document)
        } else {
            let Some(relative) = inside(&base.join(path_part)) else {
                found.push(format!(
                    "{document}:{}: `{}` leads out of the repository",
                    name.line, name.target
                ));
                continue;
            };
            relative
        };
        if is_build_output(&relative) {
            continue;
        }
        let path = root.join(&relative);
        if !this_document && !path.exists() {
            found.push(format!(
                "{document}:{}: `{}` does not exist (looked for {})",
                name.line,
                name.target,
                relative.display()
            ));
            continue;
        }
        if let Some(section) = section.filter(|s| !s.is_empty()) {
            let slugs = if this_document {
                headings.of_text(document, text)
            } else {
                headings.of_file(&path)
            };
            if !slugs.iter().any(|slug| slug == section) {
                found.push(format!(
                    "{document}:{}: `{}`: {} has no section `#{section}`",
                    name.line,
                    name.target,
                    relative.display()
                ));
            }
        }
    }
    found
}

/// `path` with `.` and `..` resolved, if it stays inside the repository.
fn inside(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

fn is_build_output(relative: &Path) -> bool {
    relative
        .components()
        .any(|c| BUILD_OUTPUT.iter().any(|out| c.as_os_str() == *out))
}

/// The section anchors of Markdown files, read once each.
#[derive(Default)]
struct Headings(HashMap<String, Vec<String>>);

impl Headings {
    fn of_file(&mut self, path: &Path) -> &[String] {
        let key = path.display().to_string();
        self.0.entry(key).or_insert_with(|| {
            if path.extension().is_some_and(|ext| ext == "md") {
                anchors(&fs::read_to_string(path).unwrap_or_default())
            } else {
                Vec::new()
            }
        })
    }

    fn of_text(&mut self, document: &str, text: &str) -> &[String] {
        self.0
            .entry(document.to_owned())
            .or_insert_with(|| anchors(text))
    }
}

/// The anchors of a Markdown text's headings, as GitHub makes them: each
/// heading's text in lower case, without punctuation, spaces as `-`; a
/// repeated one gets `-1`, `-2`, ….
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    without_fenced_blocks(text)
        .lines()
        .filter_map(|line| {
            let hashes = line.chars().take_while(|&c| c == '#').count();
            let title = line[hashes..].strip_prefix(' ')?;
            (1..=6).contains(&hashes).then(|| slug(title))
        })
        .map(|slug| {
            let count = seen.entry(slug.clone()).or_insert(0);
            let anchor = if *count == 0 {
                slug
            } else {
                format!("{slug}-{count}")
            };
            *count += 1;
            anchor
        })
        .collect()
}

/// A heading's anchor: lower case, letters, digits, `-` and `_` kept, spaces
/// as `-`, everything else dropped.
fn slug(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's root: xtask's parent.
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask has a parent")
            .to_path_buf()
    }

    #[test]
    fn every_path_the_docs_name_exists() {
        let root = root();
        let mut all = Vec::new();
        let docs = documents(&root);
        for document in &docs {
            let text = fs::read_to_string(root.join(document))
                .unwrap_or_else(|e| panic!("cannot read {document}: {e}"));
            all.extend(problems(&root, document, &text));
        }
        assert!(
            all.is_empty(),
            "the docs name {} path(s) that do not exist; fix the docs or the path:\n{}",
            all.len(),
            all.join("\n")
        );
        assert!(docs.len() > 3, "no docs/*.md read: {docs:?}");
    }

    #[test]
    fn readme_is_a_page_a_person_reads() {
        let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
        let lines = readme.lines().count();
        assert!(
            lines <= README_MAX_LINES,
            "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into a docs/ page and link it"
        );
    }

    fn check(document: &str, text: &str) -> Vec<String> {
        problems(&root(), document, text)
    }

    #[test]
    fn a_missing_path_in_backticks_is_named_with_its_file_and_line() {
        let text = "# T\n\nThe app is `src/lib.rs` and\n`src/app.rs`, served from `index.html`.\n";
        assert_eq!(
            check("README.md", text),
            ["README.md:4: `src/app.rs` does not exist (looked for src/app.rs)"]
        );
        assert_eq!(
            check("docs/a.md", "see `nowhere.html`\nand `docs/nowhere/`"),
            [
                "docs/a.md:1: `nowhere.html` does not exist (looked for nowhere.html)",
                "docs/a.md:2: `docs/nowhere/` does not exist (looked for docs/nowhere)",
            ]
        );
    }

    #[test]
    fn a_code_span_over_two_lines_counts_from_its_first() {
        let text = "one `cargo build\n--release` then `src/gone.rs`\n";
        assert_eq!(
            check("README.md", text),
            ["README.md:2: `src/gone.rs` does not exist (looked for src/gone.rs)"]
        );
    }

    #[test]
    fn links_and_images_are_read_from_the_documents_folder() {
        let from_readme = "![shot](docs/screenshot.png) [sync](docs/nope.md)";
        assert_eq!(
            check("README.md", from_readme),
            ["README.md:1: `docs/nope.md` does not exist (looked for docs/nope.md)"]
        );
        let from_docs =
            "![shot](screenshot.png)\n![twice](docs/screenshot.png)\n[home](../README.md)";
        assert_eq!(
            check("docs/page.md", from_docs),
            ["docs/page.md:2: `docs/screenshot.png` does not exist (looked for docs/docs/screenshot.png)"]
        );
        assert_eq!(
            check("docs/page.md", "[up](../../elsewhere.md)"),
            ["docs/page.md:1: `../../elsewhere.md` leads out of the repository"]
        );
        assert_eq!(
            check("README.md", "[def]: docs/missing.png\n"),
            ["README.md:1: `docs/missing.png` does not exist (looked for docs/missing.png)"]
        );
    }

    #[test]
    fn a_link_to_a_section_needs_that_section() {
        let text = "# Top\n\n## The store in five lines\n\n[a](#the-store-in-five-lines) [b](#no-such)\n[c](README.md#no-such-section)";
        assert_eq!(
            check("CONTRIBUTING.md", text),
            [
                "CONTRIBUTING.md:5: `#no-such`: CONTRIBUTING.md has no section `#no-such`",
                "CONTRIBUTING.md:6: `README.md#no-such-section`: README.md has no section `#no-such-section`",
            ]
        );
    }

    #[test]
    fn urls_commands_code_blocks_and_build_output_are_not_paths() {
        let text = "\
[site](https://example.com/src/gone.rs) <http://127.0.0.1:8000/src/gone.rs>
`cargo xtask bundle`, `prompt-runs:v1:run:<id>`, `src/<name>.rs`, `/api/v1/models`
`dist/index.html`, `target/e2e-app.png`, `examples/embed/dist/`, `app.rs`, `.js`
```sh
cargo run -- `src/gone.rs` [x](docs/gone.md)
```
~~~
src/gone.rs `src/gone.rs` [x](docs/gone.md)
~~~
````md
```
`src/gone.rs`
```
````
";
        assert_eq!(check("README.md", text), Vec::<String>::new());
    }

    #[test]
    fn anchors_are_githubs() {
        let text = "# Start-up, first paint and memory of the release app\n## The HTTP contract (NeuroForge)\n```rust\n#[component]\n```\n## `RunHistory` and more\n## Bundle\n## Bundle\n";
        assert_eq!(
            anchors(text),
            [
                "start-up-first-paint-and-memory-of-the-release-app",
                "the-http-contract-neuroforge",
                "runhistory-and-more",
                "bundle",
                "bundle-1",
            ]
        );
    }
}
