//! The check itself: from a listing of the root and the bytes of its `.loads` files and
//! configs to per-file findings. Loads first (configs and models refer to them), then configs,
//! then models.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::listing::Listing;
use super::parse::{
    load_information, load_names, model_of_term_file, normalize_model, term_file_for,
};
use super::problem::Problem;

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Models whose term file must exist (besides those found in the root).
    pub models: Vec<String>,
    /// Match names case-insensitively (as the server does with `case_insensitive`).
    pub case_insensitive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Ok,
    Missing,
    Empty,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageCheck {
    pub name: String,
    pub status: FileStatus,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadCheck {
    /// The `.loads` file (path relative to the root).
    pub file: String,
    pub size: u64,
    /// Images (and other `.loads` files) it names.
    pub images: Vec<ImageCheck>,
    pub ok: bool,
    pub problems: Vec<Problem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelCheck {
    pub model: String,
    pub term_file: String,
    pub term_file_exists: bool,
    /// Loads that configs name for this model.
    pub config_loads: Vec<String>,
    pub ok: bool,
    pub problems: Vec<Problem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigLoadCheck {
    pub model: Option<String>,
    pub load: String,
    /// `<load>.loads`
    pub load_file: String,
    pub exists: bool,
    /// The load file exists and every image it names is there and non-empty.
    pub complete: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigCheck {
    pub file: String,
    pub loads: Vec<ConfigLoadCheck>,
    pub ok: bool,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub root: PathBuf,
    pub ok: bool,
    pub files: usize,
    pub models: Vec<ModelCheck>,
    pub loads: Vec<LoadCheck>,
    pub configs: Vec<ConfigCheck>,
    /// Every problem, once each (per-model repeats of a config's problem left out).
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

fn base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_config(name: &str) -> bool {
    let b = base(name).to_ascii_lowercase();
    (b.starts_with("sep") && b.ends_with(".cnf.xml")) || b == "xmldefault.cnf.xml"
}

/// A file's bytes by its name in the listing.
type Read<'a> = &'a dyn Fn(&str) -> io::Result<Vec<u8>>;

/// Checks the root directory `root`.
pub fn check_root(root: &Path, opts: &CheckOptions) -> io::Result<Report> {
    let listing = Listing::walk(root, opts.case_insensitive)?;
    let read = |name: &str| std::fs::read(root.join(name));
    Ok(check(root, &listing, &read, opts))
}

/// Checks a listing; `read` gives a file's bytes (only `.loads` and configs are read).
pub fn check(root: &Path, listing: &Listing, read: Read<'_>, opts: &CheckOptions) -> Report {
    let loads = check_loads(listing, read);
    let ok_loads = LoadVerdicts {
        listing,
        loads: &loads,
    };
    let (configs, loads_by_model) = check_configs(listing, read, &ok_loads);
    let models = check_models(listing, opts, &loads_by_model, &ok_loads);

    let findings = loads
        .iter()
        .flat_map(|l| &l.problems)
        .chain(
            configs
                .iter()
                .flat_map(|c| c.problems.iter().chain(&c.warnings)),
        )
        .chain(models.iter().flat_map(|m| &m.problems));
    let (mut problems, mut warnings) = (Vec::new(), Vec::new());
    for p in findings.filter(|p| !p.repeats_another()) {
        if p.is_warning() {
            warnings.push(p.clone());
        } else {
            problems.push(p.clone());
        }
    }
    Report {
        root: root.to_path_buf(),
        ok: problems.is_empty(),
        files: listing.len(),
        models,
        loads,
        configs,
        problems,
        warnings,
    }
}

/// Whether a `.loads` file is there and complete (every image present and non-empty).
struct LoadVerdicts<'a> {
    listing: &'a Listing,
    loads: &'a [LoadCheck],
}

impl LoadVerdicts<'_> {
    /// None: no such file; Some(complete).
    fn get(&self, name: &str) -> Option<bool> {
        let found = self.listing.find(name)?;
        Some(self.loads.iter().any(|l| l.file == found && l.ok))
    }
}

/// Every `.loads` file: the images it names, present and non-empty?
fn check_loads(listing: &Listing, read: Read<'_>) -> Vec<LoadCheck> {
    let load_files = listing
        .names()
        .filter(|n| n.to_ascii_lowercase().ends_with(".loads"));
    let mut loads = Vec::new();
    for file in load_files {
        let size = listing.size(file).unwrap_or(0);
        let mut problems = Vec::new();
        let bytes = read(file).unwrap_or_else(|e| {
            problems.push(Problem::Unreadable {
                file: file.to_string(),
                error: e.to_string(),
            });
            Vec::new()
        });
        if size == 0 {
            problems.push(Problem::EmptyLoadFile {
                file: file.to_string(),
            });
        }
        let names = load_names(&bytes, base(file));
        // Names are relative to the load's own directory, which is the root for phones.
        let mut images = Vec::new();
        for n in &names {
            let (load_file, image) = (file.to_string(), n.clone());
            let status = match listing.size(n) {
                None => {
                    problems.push(Problem::ImageMissing { load_file, image });
                    FileStatus::Missing
                }
                Some(0) => {
                    problems.push(Problem::ImageEmpty { load_file, image });
                    FileStatus::Empty
                }
                Some(_) => FileStatus::Ok,
            };
            images.push(ImageCheck {
                name: n.clone(),
                size: listing.size(n),
                status,
            });
        }
        if size > 0 && names.is_empty() {
            problems.push(Problem::NoImages {
                load_file: file.to_string(),
            });
        }
        loads.push(LoadCheck {
            file: file.to_string(),
            size,
            ok: problems.is_empty(),
            images,
            problems,
        });
    }
    loads
}

/// Every config: does each `<loadInformation>` resolve to a complete load? Also returns the
/// loads configs name per model.
fn check_configs(
    listing: &Listing,
    read: Read<'_>,
    loads: &LoadVerdicts<'_>,
) -> (Vec<ConfigCheck>, BTreeMap<String, BTreeSet<String>>) {
    let mut configs = Vec::new();
    let mut loads_by_model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in listing.names().filter(|n| is_config(n)) {
        let config = file.to_string();
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let text = match read(file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                problems.push(Problem::Unreadable {
                    file: config.clone(),
                    error: e.to_string(),
                });
                String::new()
            }
        };
        let infos = load_information(&text);
        if infos.is_empty() && problems.is_empty() {
            warnings.push(Problem::NoLoadInformation {
                config: config.clone(),
            });
        }
        let mut checked = Vec::new();
        for info in infos {
            let load_file = format!("{}.loads", info.load);
            let (exists, complete) = match loads.get(&load_file) {
                None => {
                    problems.push(Problem::ConfigLoadMissing {
                        config: config.clone(),
                        model: info.model.clone(),
                        load: info.load.clone(),
                        load_file: load_file.clone(),
                    });
                    (false, false)
                }
                Some(false) => {
                    problems.push(Problem::ConfigLoadIncomplete {
                        config: config.clone(),
                        load: info.load.clone(),
                        load_file: load_file.clone(),
                    });
                    (true, false)
                }
                Some(true) => (true, true),
            };
            if let Some(m) = &info.model {
                loads_by_model
                    .entry(normalize_model(m))
                    .or_default()
                    .insert(info.load.clone());
            }
            checked.push(ConfigLoadCheck {
                model: info.model,
                load: info.load,
                load_file,
                exists,
                complete,
            });
        }
        configs.push(ConfigCheck {
            file: config,
            ok: problems.is_empty(),
            loads: checked,
            problems,
            warnings,
        });
    }
    (configs, loads_by_model)
}

/// Per model (those asked for, those with a term file, those configs name): is the term file
/// there and complete, and the loads configs name for it?
fn check_models(
    listing: &Listing,
    opts: &CheckOptions,
    loads_by_model: &BTreeMap<String, BTreeSet<String>>,
    loads: &LoadVerdicts<'_>,
) -> Vec<ModelCheck> {
    let mut model_names: BTreeSet<String> =
        opts.models.iter().map(|m| normalize_model(m)).collect();
    for n in listing.names().filter(|n| !n.contains('/')) {
        model_names.extend(model_of_term_file(n));
    }
    model_names.extend(loads_by_model.keys().cloned());
    let mut models = Vec::new();
    for model in model_names {
        let term_file = term_file_for(&model);
        let mut problems = Vec::new();
        let term_exists = listing.find(&term_file).is_some();
        if !term_exists {
            problems.push(Problem::TermFileMissing {
                model: model.clone(),
                term_file: term_file.clone(),
            });
        } else if loads.get(&term_file) == Some(false) {
            problems.push(Problem::TermFileIncomplete {
                model: model.clone(),
                term_file: term_file.clone(),
            });
        }
        let config_loads: Vec<String> = loads_by_model
            .get(&model)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for l in &config_loads {
            if loads.get(&format!("{l}.loads")) != Some(true) {
                problems.push(Problem::ModelLoadBroken {
                    model: model.clone(),
                    load: l.clone(),
                });
            }
        }
        models.push(ModelCheck {
            model,
            term_file,
            term_file_exists: term_exists,
            config_loads,
            ok: problems.is_empty(),
            problems,
        });
    }
    models
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(files: &[(&str, u64)]) -> Listing {
        Listing::new(
            files.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            false,
        )
    }

    #[test]
    fn check_finds_missing_empty_and_unresolved() {
        let l = listing(&[
            ("term41.default.loads", 60),
            ("SIP41.x.loads", 60),
            ("a.sbn", 10),
            ("b.sbn", 0),
            ("SEP001122334455.cnf.xml", 100),
            ("SEP001122334466.cnf.xml", 100),
        ]);
        let read = |n: &str| -> io::Result<Vec<u8>> {
            Ok(match n {
                "term41.default.loads" => b"image a.sbn 10\n".to_vec(),
                "SIP41.x.loads" => b"image a.sbn\nimage b.sbn\nimage c.sbn\n".to_vec(),
                "SEP001122334455.cnf.xml" => {
                    b"<loadInformation model=\"Cisco 7941\">SIP41.x</loadInformation>".to_vec()
                }
                _ => b"<loadInformation>SIP41.gone</loadInformation>".to_vec(),
            })
        };
        let opts = CheckOptions {
            models: vec!["7961".into()],
            ..Default::default()
        };
        let r = check(Path::new("/r"), &l, &read, &opts);
        assert!(!r.ok);
        let joined = r
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            joined.contains("SIP41.x.loads names b.sbn, which is empty"),
            "{joined}"
        );
        assert!(
            joined.contains("SIP41.x.loads names c.sbn, which is missing"),
            "{joined}"
        );
        assert!(joined.contains("SIP41.gone.loads is missing"), "{joined}");
        assert!(
            joined.contains("model 7961: term61.default.loads is missing"),
            "{joined}"
        );
        assert!(joined.contains("SEP001122334455.cnf.xml: loadInformation SIP41.x names SIP41.x.loads, which is incomplete"), "{joined}");
        // By kind, not by text: the missing image is named, the per-model repeat left out.
        let missing: Vec<&str> = r
            .problems
            .iter()
            .filter_map(Problem::missing_file)
            .collect();
        assert!(missing.contains(&"c.sbn"), "{missing:?}");
        assert!(missing.contains(&"SIP41.gone.loads"), "{missing:?}");
        assert!(!r.problems.iter().any(Problem::repeats_another));
        assert!(r.models.iter().any(|m| m
            .problems
            .iter()
            .any(|p| matches!(p, Problem::ModelLoadBroken { load, .. } if load == "SIP41.x"))));
        let m41 = r.models.iter().find(|m| m.model == "7941").unwrap();
        assert!(m41.term_file_exists);
        assert_eq!(m41.config_loads, vec!["SIP41.x"]);
        assert!(!m41.ok);
        let term = r
            .loads
            .iter()
            .find(|x| x.file == "term41.default.loads")
            .unwrap();
        assert!(term.ok);
        let t = r.to_table();
        assert!(
            t.contains("b.sbn empty") && t.contains("c.sbn missing"),
            "{t}"
        );
    }
}
