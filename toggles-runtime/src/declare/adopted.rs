//! Toggles a program serves without declaring them: a fleet's published declarations, taken
//! in by a server (`toggles serve`) before its registry is built, so that its evaluation,
//! writes and pages treat them as the services that declare them do.

use std::any::TypeId;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Mutex, PoisonError};

use crate::declare::outcomes::ArmOutcomeCells;
use crate::declare::toggle::{sealed::Sealed, Cells, VariantCells, NO_ID};
use crate::declare::{
    Flag, Kind, Life, Meta, MetaParts, RunTimeCells, Setting, SettingValue, Source, Switch, Toggle,
    UsageCell, Value, OFF,
};
use crate::stores::Declared;

/// What [`adopt`] took in, and what it left out with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Adoption {
    /// The full names adopted, in the order given.
    pub adopted: Vec<String>,
    /// The declarations left out: `(full name, why)`.
    pub skipped: Vec<(String, String)>,
}

/// Why [`adopt`] took nothing in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdoptError {
    /// The registry was built already (something read [`registry()`](crate::registry())): it
    /// holds what it held then, for the life of the process.
    RegistryBuilt,
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdoptError::RegistryBuilt => f.write_str(
                "the registry is built already: adopt declarations first thing in `main`, \
                 before anything reads `toggles::registry()` or installs a store",
            ),
        }
    }
}

impl std::error::Error for AdoptError {}

/// The adopted toggles, until the registry takes them.
enum Pending {
    Open(Vec<&'static dyn Toggle>),
    Taken,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending::Open(Vec::new()));

/// The toggles adopted so far, once: the registry takes them when it is built, and no toggle
/// is adopted after.
pub(crate) fn take() -> Vec<&'static dyn Toggle> {
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    match std::mem::replace(&mut *pending, Pending::Taken) {
        Pending::Open(toggles) => toggles,
        Pending::Taken => Vec::new(),
    }
}

/// Serves toggles this program does not declare, as their declarations say: each becomes a
/// toggle of this program's [`registry()`](crate::registry()) of its declared kind, type,
/// default and arms, checked and evaluated as in the services that declare it, and
/// [`ToggleInfo::is_adopted`](crate::ToggleInfo::is_adopted). For a server that evaluates and
/// changes a fleet's toggles on behalf of clients in any language, from the declarations the
/// fleet published to its store.
///
/// Call it before anything reads the registry; it answers
/// [`AdoptError::RegistryBuilt`] after. A name this program declares itself, or one already
/// adopted (the first declaration given wins: give the newest first), is left out, as is a
/// declaration this version cannot serve (an unknown kind or setting type, a default that is
/// not a value of its type, a temporary toggle without a removal date), each with the reason in
/// [`Adoption::skipped`]. Adopted toggles are never published as this program's own
/// declarations.
///
/// ```
/// use toggles::fleet::{adopt, Declarations};
///
/// let published: Declarations = serde_json::from_str(r#"{
///     "service": {"name": "grading", "version": "1.4.2", "instance": "web-1"},
///     "toggles": [{
///         "full_name": "grading.new_grader", "kind": "flag", "value_type": "bool",
///         "default": false, "description": "Grade problems with the rewritten engine.",
///         "life": "temporary", "remove_by": "2030-06-01", "justification": null,
///         "created": null, "owner": "grading-team", "use_cases": [], "tickets": null,
///         "warning": null,
///         "source": {"crate": "grading", "crate_version": "1.4.2", "module_path": "grading",
///                    "file": "src/lib.rs", "line": 3, "column": 12}
///     }]
/// }"#)?;
/// let adoption = adopt(&published.toggles)?;
/// assert_eq!(adoption.adopted, ["grading.new_grader"]);
///
/// let info = toggles::registry().get("grading.new_grader").unwrap();
/// assert!(info.is_adopted());
/// assert_eq!(info.meta().owner(), Some("grading-team"));
/// assert!(adopt(&published.toggles).is_err(), "the registry is built now");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn adopt<'a>(declared: impl IntoIterator<Item = &'a Declared>) -> Result<Adoption, AdoptError> {
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    let Pending::Open(toggles) = &mut *pending else {
        return Err(AdoptError::RegistryBuilt);
    };
    let declared_here: Vec<&'static str> = inventory::iter::<crate::declare::Registration>
        .into_iter()
        .map(|r| r.toggle.meta().full_name())
        .collect();
    let mut adoption = Adoption::default();
    for d in declared {
        let name = &d.full_name;
        let taken = declared_here.contains(&name.as_str())
            || toggles.iter().any(|t| t.meta().full_name() == name);
        let made = if taken {
            Err("declared by this program or given before".to_owned())
        } else {
            toggle_of(d)
        };
        match made {
            Ok(toggle) => {
                toggles.push(toggle);
                adoption.adopted.push(name.clone());
            }
            Err(why) => adoption.skipped.push((name.clone(), why)),
        }
    }
    Ok(adoption)
}

/// A `'static` copy: adopted toggles live as long as the process, as declared ones do, and are
/// made once, at start.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn toggle_of(d: &Declared) -> Result<&'static dyn Toggle, String> {
    let meta = meta_of(d)?;
    let toggle: &'static dyn Toggle = match d.kind {
        Kind::Switch | Kind::Flag => {
            let default = d
                .default
                .as_bool()
                .ok_or_else(|| format!("its default `{}` is not a boolean", d.default))?;
            if d.kind == Kind::Switch {
                Box::leak(Box::new(Switch::__new(meta, default)))
            } else {
                Box::leak(Box::new(Flag::__new(meta, default)))
            }
        }
        Kind::Variant => {
            let arms: Vec<&'static str> = d.arms.iter().map(|a| leak(a)).collect();
            let control = d
                .default
                .as_str()
                .and_then(|c| arms.iter().position(|a| *a == c))
                .ok_or_else(|| format!("its control `{}` is not one of its arms", d.default))?;
            Box::leak(Box::new(AdoptedVariant {
                meta,
                arms: Box::leak(arms.into_boxed_slice()),
                control,
                value_type: leak(&d.value_type),
                state: AtomicU64::new(u64::from(OFF)),
                id: AtomicU32::new(NO_ID),
                overrides: AtomicU32::new(0),
                outcomes: ArmOutcomeCells::new(),
                run_times: RunTimeCells::new(),
                timed: AtomicBool::new(false),
                usage: UsageCell::new(),
            }))
        }
        Kind::Setting => setting_of(d, meta)?,
        Kind::Unknown => return Err("its kind is one this version does not know".to_owned()),
    };
    Ok(toggle)
}

/// A setting of the declared type, as the `#[toggle]` macro would have made it.
fn setting_of(d: &Declared, meta: Meta) -> Result<&'static dyn Toggle, String> {
    fn make<T: SettingValue>(d: &Declared, meta: Meta) -> Result<&'static dyn Toggle, String> {
        let bits = T::decode(&d.default).map_err(|_| {
            format!(
                "its default `{}` is not a value of `{}`",
                d.default,
                T::TYPE_NAME
            )
        })?;
        Ok(Box::leak(Box::new(Setting::__new(
            meta,
            T::from_bits(bits),
        ))))
    }
    match d.value_type.as_str() {
        "u8" => make::<u8>(d, meta),
        "u16" => make::<u16>(d, meta),
        "u32" => make::<u32>(d, meta),
        "u64" => make::<u64>(d, meta),
        "usize" => make::<usize>(d, meta),
        "i8" => make::<i8>(d, meta),
        "i16" => make::<i16>(d, meta),
        "i32" => make::<i32>(d, meta),
        "i64" => make::<i64>(d, meta),
        "isize" => make::<isize>(d, meta),
        "f32" => make::<f32>(d, meta),
        "f64" => make::<f64>(d, meta),
        "bool" => make::<bool>(d, meta),
        "&str" | "&'static str" => make::<&'static str>(d, meta),
        other => Err(format!(
            "`{other}` is not a setting type this version knows"
        )),
    }
}

fn meta_of(d: &Declared) -> Result<Meta, String> {
    let full_name = leak(&d.full_name);
    let (namespace, name) = full_name
        .split_once('.')
        .ok_or_else(|| "its name is not `namespace.name`".to_owned())?;
    let life = match (d.life.as_str(), d.remove_by) {
        ("temporary", Some(remove_by)) => Life::Temporary { remove_by },
        ("temporary", None) => return Err("it is temporary without a removal date".to_owned()),
        ("permanent", _) => Life::Permanent {
            justification: leak(d.justification.as_deref().unwrap_or_default()),
        },
        (other, _) => {
            return Err(format!(
                "its life `{other}` is neither temporary nor permanent"
            ))
        }
    };
    let s = &d.source;
    Ok(Meta::__new(MetaParts {
        full_name,
        namespace,
        name,
        description: leak(&d.description),
        life,
        created: d.created,
        owner: d.owner.as_deref().map(leak),
        use_cases: Box::leak(d.use_cases.clone().into_boxed_slice()),
        tickets: d.tickets.as_deref().map(leak),
        warning: d.warning.as_deref().map(leak),
        source: Source {
            crate_name: leak(&s.crate_name),
            crate_version: leak(&s.crate_version),
            module_path: leak(&s.module_path),
            file: leak(&s.file),
            line: s.line,
            column: s.column,
        },
    }))
}

/// A variant toggle known by its declaration: its arms by name, with no enum behind them. Its
/// cells are a [`Variant`](crate::Variant)'s, so the runtime fills and reads them alike.
struct AdoptedVariant {
    meta: Meta,
    arms: &'static [&'static str],
    control: usize,
    value_type: &'static str,
    state: AtomicU64,
    id: AtomicU32,
    overrides: AtomicU32,
    outcomes: ArmOutcomeCells,
    run_times: RunTimeCells,
    timed: AtomicBool,
    usage: UsageCell,
}

impl Sealed for AdoptedVariant {
    fn cells(&self) -> Cells<'_> {
        Cells::Variant(VariantCells {
            state: &self.state,
            id: &self.id,
            overrides: &self.overrides,
            usage: &self.usage,
            arms: self.arms,
            control: self.control,
            value_type: TypeId::of::<AdoptedVariant>(),
            outcomes: &self.outcomes,
            run_times: &self.run_times,
            timed: &self.timed,
        })
    }
}

impl Toggle for AdoptedVariant {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Variant
    }
    fn value_type(&self) -> &'static str {
        self.value_type
    }
    fn default_value(&self) -> Value {
        Value::Str(self.arms[self.control])
    }
    fn arms(&self) -> &'static [&'static str] {
        self.arms
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[allow(clippy::needless_pass_by_value)]
    fn declared(kind: &str, value_type: &str, default: serde_json::Value) -> Declared {
        serde_json::from_value(json!({
            "full_name": "ops.limit", "kind": kind, "value_type": value_type, "default": default,
            "arms": if kind == "variant" { json!(["classic", "one_page"]) } else { json!([]) },
            "description": "A limit.", "life": "permanent", "remove_by": null,
            "justification": "sized per deployment", "created": null, "owner": "ops",
            "use_cases": [], "tickets": null, "warning": null,
            "source": {"crate": "ops", "crate_version": "1.0.0", "module_path": "ops",
                       "file": "src/lib.rs", "line": 4, "column": 8}
        }))
        .unwrap()
    }

    #[test]
    fn a_declaration_becomes_a_toggle_of_its_kind_type_and_default() {
        let setting = toggle_of(&declared("setting", "u16", json!(300))).unwrap();
        assert_eq!(
            (
                setting.kind(),
                setting.value_type(),
                setting.default_value()
            ),
            (Kind::Setting, "u16", Value::UInt(300))
        );
        assert_eq!(setting.meta().owner(), Some("ops"));
        assert_eq!(setting.meta().namespace(), "ops");
        assert_eq!(setting.meta().source().line, 4);
        let variant = toggle_of(&declared("variant", "Checkout", json!("one_page"))).unwrap();
        assert_eq!(variant.default_value(), Value::Str("one_page"));
        assert_eq!(variant.arms(), ["classic", "one_page"]);
        let Cells::Variant(cells) = variant.cells() else {
            panic!("a variant's cells")
        };
        assert_eq!(cells.control, 1);
        let flag = toggle_of(&declared("flag", "bool", json!(true))).unwrap();
        assert_eq!(
            (flag.kind(), flag.default_value()),
            (Kind::Flag, Value::Bool(true))
        );
    }

    #[test]
    fn a_declaration_this_version_cannot_serve_is_refused_with_the_reason() {
        let refused = |d: Declared| toggle_of(&d).err().unwrap();
        assert_eq!(
            refused(declared("setting", "u8", json!(300))),
            "its default `300` is not a value of `u8`"
        );
        assert_eq!(
            refused(declared("setting", "Duration", json!(3))),
            "`Duration` is not a setting type this version knows"
        );
        assert_eq!(
            refused(declared("variant", "Checkout", json!("express"))),
            "its control `\"express\"` is not one of its arms"
        );
        assert_eq!(
            refused(declared("gauge", "bool", json!(true))),
            "its kind is one this version does not know"
        );
        let mut temporary = declared("flag", "bool", json!(false));
        temporary.life = "temporary".to_owned();
        assert_eq!(refused(temporary), "it is temporary without a removal date");
    }
}
