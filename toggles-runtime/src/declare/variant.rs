//! `Variant<E>`: one arm of a Rust enum per context, for experiments; and `Variants`, what the
//! enum derives.

use std::any::TypeId;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

use crate::declare::outcomes::ArmOutcomeCells;
use crate::declare::toggle::{
    sealed::Sealed, Cells, DeclaredWithToggleAttribute, VariantCells, NO_ID,
};
use crate::declare::RunTimeCells;
use crate::declare::{Kind, Meta, Toggle, UsageCell, Value, OFF};

/// The arms of a [`Variant`] toggle: an enum of unit variants, each an arm, named in the store
/// and the reports by its name in snake case (`OnePage` is `one_page`) or by
/// `#[variant(name = "...")]`.
///
/// Derive it — `#[derive(Clone, Copy, Variants)]` — rather than implement it: the derive checks
/// that every variant is a unit variant and that no two arms share a name, and keeps the names
/// and positions below in step.
///
/// ```
/// use toggles::Variants;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
/// enum Checkout {
///     Classic,
///     OnePage,
///     #[variant(name = "express_pay")]
///     Express,
/// }
///
/// assert_eq!(Checkout::ARMS, ["classic", "one_page", "express_pay"]);
/// assert_eq!(Checkout::Express.name(), "express_pay");
/// assert_eq!(Checkout::from_index(1), Some(Checkout::OnePage));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a set of arms for a `Variant` toggle",
    label = "derive `toggles::Variants` on this enum",
    note = "write `#[derive(Clone, Copy, toggles::Variants)]` on an enum of unit variants, one per arm"
)]
pub trait Variants: Copy + Send + Sync + 'static {
    /// Every arm's name, in declaration order.
    const ARMS: &'static [&'static str];

    /// This arm's position in [`ARMS`](Self::ARMS).
    fn index(self) -> usize;

    /// The arm at `index` in [`ARMS`](Self::ARMS).
    fn from_index(index: usize) -> Option<Self>;

    /// This arm's name.
    fn name(self) -> &'static str {
        Self::ARMS[self.index()]
    }
}

/// A toggle that gives each context one arm of the enum `E`: an experiment, an A/B test. The
/// declared default is the control, the arm everyone gets unless the store's
/// [`VariantRule`](crate::rules::VariantRule) says otherwise; a `match` on the arm is checked by
/// rustc, so code that forgets an arm does not compile.
///
/// Declared with `#[toggle]` on an enum deriving [`Variants`]. When the arm does not depend on
/// the context (no rule, or one arm for everyone), a check is one relaxed atomic load and a
/// compare, as a flag's is.
///
/// ```
/// use toggles::{toggle, Context, Step, Variant, Variants};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
/// pub enum Checkout { Classic, OnePage, Express }
///
/// /// Try the one-page checkout against the classic one.
/// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
/// pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
///
/// let ctx = Context::new().with_user("42");
/// let page = match CHECKOUT_FLOW.get(&ctx) {
///     Checkout::Classic => "cart, address, payment",
///     Checkout::OnePage => "everything at once",
///     Checkout::Express => "pay with a saved card",
/// };
/// assert_eq!(page, "cart, address, payment");
/// assert_eq!(CHECKOUT_FLOW.explain(&ctx).step, Step::Default);
/// ```
///
/// Where each arm needs a value of its own (a price, a line of copy), give the enum a method
/// that answers per arm, or keep the values in [`Setting`](crate::Setting)s the arms read:
/// the store then holds each value once, typed and validated, and the experiment's rule only
/// decides who gets which arm.
pub struct Variant<E: Variants> {
    pub(crate) meta: Meta,
    pub(crate) default: E,
    /// `generation << 10 | arm << 2 | OFF/ON/EVAL/SLOW`: `OFF` is the control, `ON` the arm in
    /// bits 2 to 9, and the generation the state was computed for.
    pub(crate) state: AtomicU64,
    pub(crate) id: AtomicU32,
    pub(crate) overrides: AtomicU32,
    /// Outcomes recorded per arm for the guard since its last tick.
    pub(crate) outcomes: ArmOutcomeCells,
    /// Run times recorded per arm for the guard since its last tick.
    pub(crate) run_times: RunTimeCells,
    /// Whether an [`ArmOutcome`](crate::ArmOutcome) times itself: the rule in force has a
    /// guard with a run-time limit.
    pub(crate) timed: AtomicBool,
    pub(crate) usage: UsageCell,
}

/// Bits of a variant's state word below its generation.
pub(crate) const ARM_SHIFT: u32 = 10;

impl<E: Variants> Variant<E> {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: E) -> Variant<E> {
        Variant {
            meta,
            default,
            // Generation 0, the control: what a context answers before any store is installed.
            state: AtomicU64::new(OFF as u64),
            id: AtomicU32::new(NO_ID),
            overrides: AtomicU32::new(0),
            outcomes: ArmOutcomeCells::new(),
            usage: UsageCell::new(),
            run_times: RunTimeCells::new(),
            timed: AtomicBool::new(false),
        }
    }

    /// Not a constructor: toggles are declared with `#[toggle]`. This exists so that writing
    /// `Variant::new(..)` is an error that says so.
    #[doc(hidden)]
    pub const fn new(default: E) -> Variant<E>
    where
        for<'a> &'a Variant<E>: DeclaredWithToggleAttribute,
    {
        let _ = default;
        unreachable!()
    }

    /// The declared metadata.
    pub const fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The control: the declared default.
    pub const fn control(&self) -> E {
        self.default
    }
}

/// `Checkout` for `my_app::Checkout`: the enum's name as its code writes it.
fn short_type_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    full.rsplit("::").next().unwrap_or(full)
}

impl<E: Variants> Sealed for Variant<E> {
    fn cells(&self) -> Cells<'_> {
        Cells::Variant(VariantCells {
            state: &self.state,
            id: &self.id,
            overrides: &self.overrides,
            usage: &self.usage,
            arms: E::ARMS,
            control: self.default.index(),
            value_type: TypeId::of::<E>(),
            outcomes: &self.outcomes,
            run_times: &self.run_times,
            timed: &self.timed,
        })
    }
}

impl<E: Variants> Toggle for Variant<E> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Variant
    }
    fn value_type(&self) -> &'static str {
        short_type_name::<E>()
    }
    fn default_value(&self) -> Value {
        Value::Str(self.default.name())
    }
    fn arms(&self) -> &'static [&'static str] {
        E::ARMS
    }
}

impl<E: Variants + fmt::Debug> fmt::Debug for Variant<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("full_name", &self.meta.full_name())
            .field("control", &self.default)
            .finish_non_exhaustive()
    }
}
