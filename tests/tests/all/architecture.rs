//! The house rules of the source tree, read from the `use` lines and paths of every module: at
//! every folder level of `plugin/src` and `host/src`, sibling modules (files, and folders taken
//! whole) depend on each other one way only. A folder's own `mod.rs`/`lib.rs` is its front door
//! and may use its children freely. Test modules (`#[cfg(test)]` to the end of a file) are left
//! out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// The module path of a source file under `root` (`caps/http.rs` -> `caps::http`).
fn module_of(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).expect("under the root");
    let mut parts: ModPath = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments and without its test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::`, `super::` and `self::` path in `code`, with `{a, b::c}` groups expanded.
fn paths_in(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| bytes[i..].starts_with(p.as_bytes()));
        if !starts || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && (ident(bytes[j]) || bytes[j] == b':') {
            j += 1;
        }
        let head = code[i..j].trim_end_matches(':').to_string();
        if j < bytes.len() && bytes[j] == b'{' {
            let mut depth = 0;
            let mut k = j;
            while k < bytes.len() {
                match bytes[k] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            let group = &code[j + 1..k.min(code.len())];
            for part in group.split([',', '{', '}']) {
                let part = part.split_whitespace().next().unwrap_or("");
                let part = part.trim_matches(':');
                if part.is_empty() || part == "self" {
                    out.push(head.clone());
                } else {
                    out.push(format!("{head}::{part}"));
                }
            }
            i = k;
        } else {
            out.push(head);
            i = j;
        }
    }
    out
}

/// The module a path in module `from` names: the longest known module prefix.
fn target(path: &str, from: &ModPath, modules: &BTreeSet<ModPath>) -> ModPath {
    let mut segments = path.split("::").peekable();
    let mut current: ModPath = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        _ => from.clone(),
    };
    while let Some(s) = segments.peek().copied() {
        match s {
            "self" => {}
            "super" => {
                current.pop();
            }
            _ => break,
        }
        segments.next();
    }
    for s in segments {
        let mut next = current.clone();
        next.push(s.to_string());
        if !modules.contains(&next) {
            break;
        }
        current = next;
    }
    current
}

/// The cycles among siblings, as `folder: a -> b -> ... -> a` lines.
fn sibling_cycles(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut code: BTreeMap<ModPath, String> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read a source file");
        code.insert(module_of(root, f), code_of(&text));
    }
    let modules: BTreeSet<ModPath> = code.keys().cloned().collect();
    let mut edges: BTreeSet<(ModPath, ModPath)> = BTreeSet::new();
    for (from, text) in &code {
        for p in paths_in(text) {
            edges.insert((from.clone(), target(&p, from, &modules)));
        }
    }
    let folders: BTreeSet<ModPath> = modules
        .iter()
        .filter(|m| !m.is_empty())
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    let mut cycles = Vec::new();
    for folder in folders {
        let n = folder.len();
        let child = |m: &ModPath| (m.len() > n && m[..n] == folder[..]).then(|| m[n].clone());
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in &edges {
            if let (Some(a), Some(b)) = (child(a), child(b)) {
                if a != b {
                    graph.entry(a).or_default().insert(b);
                }
            }
        }
        let name = if folder.is_empty() {
            "(crate root)".to_string()
        } else {
            folder.join("::")
        };
        cycles.extend(find_cycles(&graph).into_iter().map(|c| {
            let detail: Vec<String> = c
                .iter()
                .map(|a| {
                    let into: Vec<&str> = graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(String::as_str)
                        .collect();
                    format!("{a} -> {}", into.join(", "))
                })
                .collect();
            format!("{name}: {}", detail.join("; "))
        }));
    }
    cycles
}

/// The strongly connected components of more than one node (Tarjan).
fn find_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

#[test]
fn the_checker_finds_a_cycle_between_two_siblings_and_none_in_a_chain() {
    let dir = tempfile_dir();
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod flows;").unwrap();
    std::fs::write(
        dir.join("flows/mod.rs"),
        "pub mod a; pub mod b; pub mod c;\nuse self::a::run;",
    )
    .unwrap();
    std::fs::write(dir.join("flows/a.rs"), "use super::{b, c::X};").unwrap();
    std::fs::write(dir.join("flows/b.rs"), "use crate::flows::c;").unwrap();
    std::fs::write(dir.join("flows/c.rs"), "// use super::a;\npub struct X;").unwrap();
    assert_eq!(sibling_cycles(&dir), Vec::<String>::new());
    std::fs::write(
        dir.join("flows/c.rs"),
        "pub struct X;\nfn f() { super::a::run() }",
    )
    .unwrap();
    assert_eq!(
        sibling_cycles(&dir),
        vec!["flows: a -> b, c; b -> c; c -> a".to_string()]
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ledgerlink-arch-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_flows_and_the_rest_of_the_plugin_form_no_import_cycle() {
    let cycles = sibling_cycles(&workspace().join("plugin/src"));
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_host_modules_form_no_import_cycle() {
    let cycles = sibling_cycles(&workspace().join("host/src"));
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// The flows (one per job) and the modules that decide which flow runs.
const FLOWS: [&str; 11] = [
    "accounts",
    "adjustments",
    "products",
    "invoices",
    "orders",
    "payments",
    "inbound",
    "aging",
    "reconcile",
    "audit",
    "review",
];
const STARTERS: [&str; 5] = [
    "triggers",
    "change_events",
    "salesforce_poll",
    "quickbooks_poll",
    "routing",
];

/// Every `a -> b` edge where module `a` of `plugin/src/flows` uses flow `b` and `a` is neither
/// the folder's front door nor one of the modules that start or route runs.
fn flows_using_flows(root: &Path) -> Vec<String> {
    let flows_dir = root.join("flows");
    let mut files = Vec::new();
    rust_files(&flows_dir, &mut files);
    let mut code: BTreeMap<ModPath, String> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read a source file");
        code.insert(module_of(root, f), code_of(&text));
    }
    let modules: BTreeSet<ModPath> = code.keys().cloned().collect();
    for flow in FLOWS.iter().chain(&STARTERS) {
        assert!(
            modules.contains(&vec!["flows".to_string(), flow.to_string()]),
            "flows::{flow} is named by this test but no longer exists"
        );
    }
    let mut found = BTreeSet::new();
    for (from, text) in &code {
        let Some(a) = from.get(1) else { continue };
        if STARTERS.contains(&a.as_str()) {
            continue;
        }
        for p in paths_in(text) {
            let to = target(&p, from, &modules);
            if let Some(b) = to.get(1).filter(|b| *b != a && to[0] == "flows") {
                if FLOWS.contains(&b.as_str()) {
                    found.insert(format!("{a} -> {b}"));
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_flow_uses_another_flow() {
    let edges = flows_using_flows(&workspace().join("plugin/src"));
    assert!(
        edges.is_empty(),
        "flows using flows (move what they share into a module below them):\n{}",
        edges.join("\n")
    );
}

/// The Salesforce custom field names (`X__c`) spelled in the flows' code (comments and tests
/// left out): they belong in `clients::salesforce_fields`.
fn field_names_in_flows(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root.join("flows"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let code = code_of(&std::fs::read_to_string(&f).expect("read a source file"));
        for (n, line) in code.lines().enumerate() {
            if line.contains("__c") {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_flows_spell_no_salesforce_field_name() {
    let found = field_names_in_flows(&workspace().join("plugin/src"));
    assert!(
        found.is_empty(),
        "field names in flows:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_flow_checks_find_a_flow_using_a_flow_and_a_field_name() {
    let dir = std::env::temp_dir().join(format!("ledgerlink-arch-flows-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(dir.join("flows/invoices")).unwrap();
    let mut decl = String::new();
    for m in FLOWS.iter().chain(&STARTERS) {
        decl.push_str(&format!("pub mod {m};\n"));
        if *m != "invoices" {
            std::fs::write(dir.join(format!("flows/{m}.rs")), "").unwrap();
        }
    }
    std::fs::write(dir.join("lib.rs"), "pub mod flows;").unwrap();
    std::fs::write(dir.join("flows/mod.rs"), decl).unwrap();
    std::fs::write(
        dir.join("flows/routing.rs"),
        "use super::{accounts, invoices};",
    )
    .unwrap();
    std::fs::write(
        dir.join("flows/invoices/mod.rs"),
        "mod parts;\n// use super::accounts;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("flows/invoices/parts.rs"),
        "fn f() { crate::flows::payments::run(); }\n#[cfg(test)]\nuse super::super::aging;",
    )
    .unwrap();
    std::fs::write(
        dir.join("flows/orders.rs"),
        "const F: &str = \"QBO_Journal_Entry_Id__c\";",
    )
    .unwrap();
    assert_eq!(flows_using_flows(&dir), vec!["invoices -> payments"]);
    assert_eq!(field_names_in_flows(&dir).len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}
