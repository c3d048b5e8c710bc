//! What the check finds, by kind. Code decides by the kind (which findings are warnings, which
//! repeat another, which file is to blame); the text (`Display`) is for people and is what the
//! JSON report carries, so its shape did not change when the kinds came in.

use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A `.loads` file or a config that could not be read.
    Unreadable { file: String, error: String },
    /// A `.loads` file of 0 bytes.
    EmptyLoadFile { file: String },
    /// A `.loads` file names an image that is not in the root.
    ImageMissing { load_file: String, image: String },
    /// A `.loads` file names an image of 0 bytes.
    ImageEmpty { load_file: String, image: String },
    /// A non-empty `.loads` file in which no image name was found.
    NoImages { load_file: String },
    /// A config's `<loadInformation>` names a `.loads` file that is not there.
    ConfigLoadMissing {
        config: String,
        model: Option<String>,
        load: String,
        load_file: String,
    },
    /// A config's `<loadInformation>` names a `.loads` file with a problem of its own.
    ConfigLoadIncomplete {
        config: String,
        load: String,
        load_file: String,
    },
    /// A model's `termXX.default.loads` (what a factory-reset phone asks for) is missing.
    TermFileMissing { model: String, term_file: String },
    /// A model's term file exists but has a problem of its own.
    TermFileIncomplete { model: String, term_file: String },
    /// A load that configs name for this model is missing or incomplete: the configs' own
    /// problems, seen per model.
    ModelLoadBroken { model: String, load: String },
    /// A config without `<loadInformation>`: its phones keep the firmware they have.
    NoLoadInformation { config: String },
}

impl Problem {
    /// Not a fault: worth saying, but the root can still boot phones.
    pub fn is_warning(&self) -> bool {
        matches!(self, Problem::NoLoadInformation { .. })
    }

    /// The same fault as another finding in the report (per model, of a config's load), so
    /// the report's list of problems leaves it out.
    pub fn repeats_another(&self) -> bool {
        matches!(self, Problem::ModelLoadBroken { .. })
    }

    /// The file that is missing, empty or unreadable, when the finding names one (what a
    /// phone stuck on a transfer would be asking for).
    pub fn missing_file(&self) -> Option<&str> {
        match self {
            Problem::ImageMissing { image, .. } | Problem::ImageEmpty { image, .. } => Some(image),
            Problem::ConfigLoadMissing { load_file, .. } => Some(load_file),
            Problem::TermFileMissing { term_file, .. } => Some(term_file),
            Problem::EmptyLoadFile { file } | Problem::Unreadable { file, .. } => Some(file),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable { file, error } => write!(f, "{file}: cannot read: {error}"),
            Problem::EmptyLoadFile { file } => write!(f, "{file} is empty (0 bytes)"),
            Problem::ImageMissing { load_file, image } => {
                write!(f, "{load_file} names {image}, which is missing")
            }
            Problem::ImageEmpty { load_file, image } => {
                write!(f, "{load_file} names {image}, which is empty (0 bytes)")
            }
            Problem::NoImages { load_file } => write!(f, "{load_file} names no image file"),
            Problem::ConfigLoadMissing {
                config,
                model,
                load,
                load_file,
            } => write!(
                f,
                "{config}: loadInformation{} {load} does not resolve: {load_file} is missing",
                model
                    .as_deref()
                    .map(|m| format!(" for {m}"))
                    .unwrap_or_default()
            ),
            Problem::ConfigLoadIncomplete {
                config,
                load,
                load_file,
            } => write!(
                f,
                "{config}: loadInformation {load} names {load_file}, which is incomplete"
            ),
            Problem::TermFileMissing { model, term_file } => write!(
                f,
                "model {model}: {term_file} is missing (a factory-reset phone cannot upgrade)"
            ),
            Problem::TermFileIncomplete { model, term_file } => {
                write!(f, "model {model}: {term_file} is incomplete")
            }
            Problem::ModelLoadBroken { model, load } => write!(
                f,
                "model {model}: load {load} named by configs is missing or incomplete"
            ),
            Problem::NoLoadInformation { config } => write!(
                f,
                "{config} has no <loadInformation>: phones keep the firmware they have"
            ),
        }
    }
}

/// As its text: the JSON report lists problems as lines.
impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
