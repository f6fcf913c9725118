//! A test of the host's layout: its folders depend on each other one way only, down
//! the flow of events (source -> pipeline -> buffer -> deliver, with module beside
//! delivery), so that any stage can be read, tested and replaced without the ones
//! after it; and so do the files of each folder. An import that closes a circle fails
//! this test, naming the circle.
//!
//! A reference is a path that names a module: `crate::a` (and each of
//! `crate::{a, b::c}`) between the top-level modules; `super::a` (from a file of the
//! folder) or `crate::folder::a` between the files of a folder. A file's use of its
//! folder's own items (`super::Item`, from `mod.rs`) is not a reference to a sibling.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The first name of each path that follows `prefix` in `text`: `prefix` then a name,
/// or `prefix` then a `{...}` group of paths.
fn referenced(text: &str, prefix: &str) -> Vec<String> {
    let name = |rest: &str| -> String {
        rest.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        // `super::super::x` is not this folder's; `crate::a::super` does not occur.
        let before = &text[..at];
        if before.ends_with("::") || before.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let mut depth = 0usize;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            names.push(name(&group[start..i]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            names.push(name(&group[start..i]));
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => names.push(name(rest)),
        }
    }
    names.retain(|n| !n.is_empty() && n != "self" && n != "super");
    names
}

/// Every `.rs` file under `dir`, with the first component of its path under `dir`.
fn files_by_top(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let top = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        found.push((top, path));
    }
    found
}

/// Each top-level module of the crate and the top-level modules its files name with
/// `crate::`.
fn dependencies(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for (top, path) in files_by_top(src) {
        let text = std::fs::read_to_string(&path).unwrap();
        let uses = graph.entry(top.clone()).or_default();
        uses.extend(
            referenced(&text, "crate::")
                .into_iter()
                .filter(|name| *name != top),
        );
    }
    graph
}

/// The files (and subfolders) of the folder `dir` (`crate::<path>`) and the siblings
/// each names.
fn folder_dependencies(dir: &Path, path: &str) -> Graph {
    let mut graph = Graph::new();
    let siblings: BTreeSet<String> = files_by_top(dir)
        .into_iter()
        .map(|(top, _)| top)
        .filter(|top| top != "mod")
        .collect();
    for (top, file) in files_by_top(dir) {
        if top == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut names = referenced(&text, &format!("crate::{path}::"));
        if file.parent() == Some(dir) {
            names.extend(referenced(&text, "super::"));
        }
        let uses = graph.entry(top.clone()).or_default();
        uses.extend(
            names
                .into_iter()
                .filter(|name| *name != top && siblings.contains(name)),
        );
    }
    graph
}

/// A circle through `from`, if there is one: the modules along it.
fn circle(graph: &Graph, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            if next == from {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

fn assert_no_circle(graph: &Graph, what: &str) {
    for module in graph.keys() {
        if let Some(circle) = circle(graph, module) {
            panic!("import circle in {what}: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_host_folders_depend_on_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = dependencies(&src);
    assert!(graph.contains_key("deliver") && graph["deliver"].contains("module"));
    assert_no_circle(&graph, "src");
}

#[test]
fn the_files_of_each_folder_depend_on_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut folders = vec![(src.clone(), String::new())];
    let mut checked = 0;
    while let Some((dir, path)) = folders.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap().path();
            if entry.is_dir() {
                let name = entry.file_name().unwrap().to_string_lossy().into_owned();
                let nested = match path.as_str() {
                    "" => name,
                    _ => format!("{path}::{name}"),
                };
                folders.push((entry, nested));
            }
        }
        if path.is_empty() {
            continue;
        }
        let graph = folder_dependencies(&dir, &path);
        assert_no_circle(&graph, &path);
        checked += 1;
    }
    assert!(checked >= 6, "the folders were found: {checked}");
}

#[test]
fn references_are_read_from_paths_and_groups() {
    let text = "use crate::{a, b::c, d::{e, f}};\nuse super::g::h;\nlet x = crate::i::j();\nsuper::super::k;";
    assert_eq!(referenced(text, "crate::"), ["a", "b", "d", "i"]);
    assert_eq!(referenced(text, "super::"), ["g"]);
}

#[test]
fn a_circle_is_found() {
    let graph: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circle(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(circle(&graph, "d"), None);
}
