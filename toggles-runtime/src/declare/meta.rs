//! What a toggle's declaration says about it: the annotations the `#[toggle]` macro checked,
//! frozen into the binary.

use toggles_vocab::{Date, UseCase};

/// A toggle's declared metadata: its names, description, life expectancy and where it is declared.
///
/// Built by the `#[toggle]` macro; read it through [`Switch::meta`](crate::Switch::meta) and
/// friends, or through [`registry()`](crate::registry()).
#[derive(Debug)]
pub struct Meta {
    parts: MetaParts,
}

/// The fields of a [`Meta`], as the `#[toggle]` macro writes them. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct MetaParts {
    pub full_name: &'static str,
    pub namespace: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub life: Life,
    pub created: Option<Date>,
    pub owner: Option<&'static str>,
    pub use_cases: &'static [UseCase],
    pub tickets: Option<&'static str>,
    pub warning: Option<&'static str>,
    pub source: Source,
}

impl Meta {
    #[doc(hidden)]
    pub const fn __new(parts: MetaParts) -> Meta {
        Meta { parts }
    }

    /// Stands in for the metadata of a declaration the macro rejected; never registered.
    #[doc(hidden)]
    pub const fn __placeholder() -> Meta {
        Meta::__new(MetaParts {
            full_name: "",
            namespace: "",
            name: "",
            description: "",
            life: Life::Permanent { justification: "" },
            created: None,
            owner: None,
            use_cases: &[],
            tickets: None,
            warning: None,
            source: Source {
                crate_name: "",
                crate_version: "",
                module_path: "",
                file: "",
                line: 0,
                column: 0,
            },
        })
    }

    /// `namespace.name`, unique in the binary: `grading.new_grader`.
    pub const fn full_name(&self) -> &'static str {
        self.parts.full_name
    }

    /// The namespace: `grading`.
    pub const fn namespace(&self) -> &'static str {
        self.parts.namespace
    }

    /// The name within the namespace: `new_grader`.
    pub const fn name(&self) -> &'static str {
        self.parts.name
    }

    /// The doc comment, with the `///` markers and common indentation removed.
    pub const fn description(&self) -> &'static str {
        self.parts.description
    }

    /// How long the toggle is meant to live.
    pub const fn life(&self) -> Life {
        self.parts.life
    }

    /// The date a temporary toggle is to be removed by; `None` for a permanent one.
    pub const fn remove_by(&self) -> Option<Date> {
        match self.parts.life {
            Life::Temporary { remove_by } => Some(remove_by),
            Life::Permanent { .. } => None,
        }
    }

    /// Why a permanent toggle must stay; `None` for a temporary one.
    pub const fn justification(&self) -> Option<&'static str> {
        match self.parts.life {
            Life::Permanent { justification } => Some(justification),
            Life::Temporary { .. } => None,
        }
    }

    /// When the toggle was introduced, if declared.
    pub const fn created(&self) -> Option<Date> {
        self.parts.created
    }

    /// The team that owns the toggle, if declared.
    pub const fn owner(&self) -> Option<&'static str> {
        self.parts.owner
    }

    /// What the toggle is for, in OEP-17's vocabulary.
    pub const fn use_cases(&self) -> &'static [UseCase] {
        self.parts.use_cases
    }

    /// Tickets or links about the toggle, if declared.
    pub const fn tickets(&self) -> Option<&'static str> {
        self.parts.tickets
    }

    /// A caution for whoever changes the toggle, if declared.
    pub const fn warning(&self) -> Option<&'static str> {
        self.parts.warning
    }

    /// Where the toggle is declared.
    pub const fn source(&self) -> &Source {
        &self.parts.source
    }

    /// Whether a temporary toggle's `remove_by` date is strictly before `today`.
    ///
    /// A toggle is due *on* its `remove_by` date and expired the day after.
    pub fn is_expired_on(&self, today: Date) -> bool {
        self.remove_by().is_some_and(|d| d < today)
    }
}

/// A toggle's declared life expectancy (OEP-17: every toggle says how long it is meant to live).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// To be removed once its rollout is over, by `remove_by`.
    Temporary {
        /// The date the toggle should be gone by.
        remove_by: Date,
    },
    /// Meant to stay, for the reason given.
    Permanent {
        /// Why it must stay.
        justification: &'static str,
    },
}

impl Life {
    /// `"temporary"` or `"permanent"`, as written in the attribute.
    pub const fn as_str(self) -> &'static str {
        match self {
            Life::Temporary { .. } => "temporary",
            Life::Permanent { .. } => "permanent",
        }
    }
}

/// Where a toggle is declared: crate, module, file and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Source {
    /// The crate's package name (`CARGO_PKG_NAME`), or the crate name where Cargo did not build it.
    #[serde(rename = "crate")]
    pub crate_name: &'static str,
    /// The crate's version (`CARGO_PKG_VERSION`), empty where Cargo did not build it.
    pub crate_version: &'static str,
    /// `module_path!()` at the declaration.
    pub module_path: &'static str,
    /// `file!()` at the declaration.
    pub file: &'static str,
    /// The line of the static's name.
    pub line: u32,
    /// The column of the static's name.
    pub column: u32,
}

impl Source {
    /// A declaration at `file`, `line`, `column`, in no crate or module until
    /// [`in_crate`](Source::in_crate) and [`in_module`](Source::in_module) say: the macro builds
    /// a toggle's; this is for a test or a tool that needs one of its own.
    ///
    /// ```
    /// use toggles::Source;
    ///
    /// const AT: Source = Source::new("src/grading.rs", 12, 1)
    ///     .in_crate("lms", "1.9.0")
    ///     .in_module("lms::grading");
    /// assert_eq!(AT.to_string(), "src/grading.rs:12:1");
    /// assert_eq!((AT.crate_name, AT.module_path), ("lms", "lms::grading"));
    /// ```
    pub const fn new(file: &'static str, line: u32, column: u32) -> Source {
        Source {
            crate_name: "",
            crate_version: "",
            module_path: "",
            file,
            line,
            column,
        }
    }

    /// In the crate `name` at `version`.
    #[must_use]
    pub const fn in_crate(mut self, name: &'static str, version: &'static str) -> Source {
        self.crate_name = name;
        self.crate_version = version;
        self
    }

    /// In the module `path` (as `module_path!()` gives it).
    #[must_use]
    pub const fn in_module(mut self, path: &'static str) -> Source {
        self.module_path = path;
        self
    }

    /// What the `#[toggle]` macro's expansion builds. Not public API.
    #[doc(hidden)]
    pub const fn __new(
        crate_name: &'static str,
        crate_version: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
        column: u32,
    ) -> Source {
        Source {
            crate_name,
            crate_version,
            module_path,
            file,
            line,
            column,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A permanent toggle's metadata declared at `file:line`, for the unit tests' statics made
/// without the macro.
#[cfg(test)]
pub(crate) const fn test_meta(full_name: &'static str, file: &'static str, line: u32) -> Meta {
    Meta::__new(MetaParts {
        full_name,
        namespace: "grading",
        name: "new_grader",
        description: "Grade problems with the rewritten engine.",
        life: Life::Permanent {
            justification: "test",
        },
        created: None,
        owner: None,
        use_cases: &[],
        tickets: None,
        warning: None,
        source: Source {
            crate_name: "test",
            crate_version: "0.0.0",
            module_path: "test",
            file,
            line,
            column: 1,
        },
    })
}
