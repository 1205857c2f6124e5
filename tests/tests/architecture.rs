//! The architecture's invariants (ARCHITECTURE.md, "Invariants"), each read off the code or
//! off `cargo tree`, so that a change that breaks one fails here rather than in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                found.push((path, text));
            }
        }
    }
    found.sort();
    found
}

/// The feature functions: each folder under `functions/`.
fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The packages `package` links into its binary (normal dependencies, all the way down).
fn linked(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-f",
            "{p}",
            "-p",
        ])
        .arg(package)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn only_the_store_names_the_dynamodb_sdk() {
    let store = root().join("shared/src/store.rs");
    let mut offenders = Vec::new();
    for dir in ["shared/src", "functions"] {
        for (path, text) in sources(&root().join(dir)) {
            if path != store && text.contains("aws_sdk_dynamodb") {
                offenders.push(path);
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

/// Whether `text` names the crate `name` as a path's first segment (`token::`, not
/// `id_token::` or `session::token::`).
fn names_crate(text: &str, name: &str) -> bool {
    let needle = format!("{name}::");
    text.match_indices(&needle).any(|(at, _)| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

#[test]
fn functions_never_import_each_other() {
    let names = functions();
    for name in &names {
        let manifest =
            std::fs::read_to_string(root().join("functions").join(name).join("Cargo.toml"))
                .expect("a manifest");
        for other in names.iter().filter(|o| *o != name) {
            let crate_name = other.replace('-', "_");
            assert!(
                !manifest
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{other} "))
                        || l.trim_start().starts_with(&format!("{other}."))),
                "{name} depends on {other}"
            );
            for (path, text) in sources(&root().join("functions").join(name)) {
                assert!(!names_crate(&text, &crate_name), "{path:?} names {other}");
            }
        }
    }
}

#[test]
fn no_function_links_the_embedded_dynamodb_or_the_test_tools() {
    for name in functions() {
        let linked = linked(&name);
        for local_only in ["dynoxide-rs", "reqwest", "tempfile", "blockauth-local"] {
            assert!(!linked.contains(local_only), "{name} links {local_only}");
        }
    }
}

/// A function reads its AWS configuration from Lambda's environment (`blockauth::aws`) and
/// calls Lambda, SQS and EventBridge through it: it links neither aws-config's provider
/// chain, nor a client of those services, nor the log filter's regex engine.
#[test]
fn no_function_links_a_client_it_does_without() {
    for name in functions() {
        let linked = linked(&name);
        for unused in [
            "aws-config",
            "aws-sdk-sts",
            "aws-sdk-lambda",
            "aws-sdk-sqs",
            "aws-sdk-eventbridge",
            "regex",
        ] {
            assert!(!linked.contains(unused), "{name} links {unused}");
        }
    }
}

/// Every `crate::a::b::...` path in `text`, as its segments (`use crate::{a, b::c}` lists
/// several).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let path = |from: &str| -> Vec<String> {
        from.split("::")
            .map(|segment| {
                segment
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|segment| !segment.is_empty())
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = group.split('}').next().unwrap_or_default();
            found.extend(inside.split(',').map(|item| path(item.trim())));
        } else {
            found.push(path(rest));
        }
    }
    found
}

/// The module a source file is: `mail/mod.rs` is `mail`, `mail/messages.rs` is
/// `mail::messages`.
fn module_of(relative: &Path) -> String {
    let mut segments: Vec<String> = relative
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments.join("::")
}

#[test]
fn the_domain_s_modules_import_each_other_without_a_cycle() {
    let src = root().join("shared/src");
    let files = sources(&src);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(path, _)| module_of(path.strip_prefix(&src).expect("under src")))
        .filter(|m| m != "lib")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let module = module_of(path.strip_prefix(&src).expect("under src"));
        if module == "lib" {
            continue;
        }
        // Tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for segments in crate_paths(code) {
            // The longest prefix of the path that is a module is the one it names.
            let named = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|candidate| modules.contains(candidate));
            if let Some(named) = named.filter(|n| *n != module) {
                graph.entry(module.clone()).or_default().insert(named);
            }
        }
    }
    // Depth-first search for a path back to where it started.
    fn cycle_from(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        let last = path.last().cloned().unwrap_or_default();
        for next in graph.get(&last).into_iter().flatten() {
            if path.first() == Some(next) {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if !path.contains(next) {
                path.push(next.clone());
                if let Some(cycle) = cycle_from(graph, path) {
                    return Some(cycle);
                }
                path.pop();
            }
        }
        None
    }
    for module in graph.keys() {
        let cycle = cycle_from(&graph, &mut vec![module.clone()]);
        assert!(
            cycle.is_none(),
            "an import cycle: {}",
            cycle.unwrap_or_default().join(" -> ")
        );
    }
}

/// The capabilities a function's manifest enables on `blockauth`.
fn enabled_capabilities(function: &str) -> BTreeSet<String> {
    let manifest =
        std::fs::read_to_string(root().join("functions").join(function).join("Cargo.toml"))
            .expect("a manifest");
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("blockauth"))
        .unwrap_or_default();
    let features = line.split("features").nth(1).unwrap_or_default();
    features
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn each_function_links_exactly_the_capabilities_it_enables() {
    // Each capability, and a crate that only it brings in (webauthn-rs's crypto brings in
    // an argon2 of its own, so password's marker is flate2).
    let capabilities = [
        ("password", "flate2"),
        ("wallet", "k256"),
        ("mail", "aws-sdk-sesv2"),
        ("social", "oauth2"),
        ("passkey", "webauthn-rs"),
        ("mfa", "qrcode"),
    ];
    for name in functions() {
        let enabled = enabled_capabilities(&name);
        let linked = linked(&name);
        for (capability, marker) in capabilities {
            assert_eq!(
                linked.contains(marker),
                enabled.contains(capability),
                "{name}: capability {capability} (crate {marker})"
            );
        }
        assert!(
            !enabled.contains("local"),
            "{name} enables the local-only feature"
        );
    }
}
