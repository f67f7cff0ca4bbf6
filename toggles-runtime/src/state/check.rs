//! The read API of the toggle types: each check reads the cached state `publish` wrote, and
//! only its cold path looks further.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::compile::Entry;
use crate::declare::{
    key, registry, Cells, Flag, Setting, SettingValue, Switch, ToggleInfo, Value, Variant,
    Variants, ARM_SHIFT, NOTE, NOTE_WORD, OFF, ON, STORED,
};
use crate::state::{exposure, overrides, retained};
use crate::targeting::{Assignment, Context, Decided, Explanation, RuleNames, Step};
use crate::targeting::{CompiledRule, CompiledVariant};

/// What the compiled state in force holds for the toggle whose registry id is in `id`: for the
/// slow paths that answer from the newest state rather than a context's.
fn stored<R>(id: &AtomicU32, f: impl FnOnce(Option<&Entry>) -> R) -> R {
    let id = id.load(Ordering::Relaxed);
    f(retained::newest().as_deref().and_then(|c| c.entry(id)))
}

impl Switch {
    /// Whether the switch is on: one relaxed atomic load.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        match self.state.load(Ordering::Relaxed) {
            ON => true,
            OFF => false,
            _ => self.resolve(),
        }
    }

    /// A test override is in scope somewhere, or the heartbeat asked for the next check to
    /// note its answer.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        let on = if state & NOTE != 0 {
            clear_byte_note(&self.state, state);
            match state & !NOTE {
                ON => Some(true),
                OFF => Some(false),
                _ => None,
            }
        } else {
            None
        };
        let on = on.unwrap_or_else(|| {
            overrides::lookup::<bool>(key(self)).unwrap_or_else(|| {
                stored(&self.id, |entry| match entry {
                    Some(Entry::Switch(on)) => *on,
                    _ => self.default,
                })
            })
        });
        self.usage.note(usize::from(on));
        on
    }
}

impl Flag {
    /// Whether the flag is on for this context.
    ///
    /// When the answer does not depend on the context, one relaxed atomic load and a compare;
    /// otherwise the flag's rule is evaluated in the state the context pinned (see
    /// [`FlagRule`](crate::rules::FlagRule) for the order).
    #[inline]
    pub fn is_enabled(&self, ctx: &Context<'_>) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if state >> 2 == ctx.generation() {
            match (state & 3) as u8 {
                ON => return true,
                OFF => return false,
                _ => {}
            }
        }
        self.resolve(ctx)
    }

    #[cold]
    #[inline(never)]
    fn resolve(&self, ctx: &Context<'_>) -> bool {
        let on = self.decide(ctx, |on, _| on);
        self.usage.note(usize::from(on));
        clear_note(&self.state);
        on
    }

    /// The answer for this context and the step of the rule that decided it; always the
    /// answer [`is_enabled`](Self::is_enabled) gives for the same context.
    ///
    /// ```
    /// use toggles::{toggle, Context, Flag, Step};
    ///
    /// /// Show the new course outline.
    /// #[toggle(namespace = "courseware", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_OUTLINE: Flag = true;
    ///
    /// let why = NEW_OUTLINE.explain(&Context::new());
    /// assert!(why.enabled);
    /// assert_eq!(why.step, Step::Default);
    /// ```
    pub fn explain(&self, ctx: &Context<'_>) -> Explanation {
        self.decide(ctx, Explanation::new)
    }

    /// The full evaluation, handed to `answer` with the step that decided (`None` for a test
    /// override).
    fn decide<R>(
        &self,
        ctx: &Context<'_>,
        answer: impl FnOnce(bool, Option<(Option<&dyn RuleNames>, Decided)>) -> R,
    ) -> R {
        if self.overrides.load(Ordering::Relaxed) > 0 {
            if let Some(on) = overrides::lookup::<bool>(key(self)) {
                return answer(on, None);
            }
        }
        let id = self.id.load(Ordering::Relaxed);
        retained::with(ctx.generation(), |compiled| {
            let Some(Entry::Flag(rule)) = compiled.and_then(|c| c.entry(id)) else {
                return answer(self.default, Some((None, Decided::Default)));
            };
            let rule: &CompiledRule = rule;
            match rule.evaluate(ctx, &|id| required(id, ctx)) {
                Some((on, decided)) => answer(on, Some((Some(rule), decided))),
                None => answer(self.default, Some((Some(rule), Decided::Default))),
            }
        })
    }
}

/// Hands over the exposure of `ctx`'s unit if the tracked `rule` of the toggle at registry id
/// `id` drew it into arm `arm`.
#[inline]
fn expose_drawn(
    rule: &CompiledVariant,
    id: u32,
    arm: u8,
    decided: Decided,
    seed: u64,
    ctx: &Context<'_>,
) {
    if !rule.tracks() {
        return;
    }
    if let (
        Decided::Split {
            bucket: Some(b),
            coverage,
        },
        Some(unit),
    ) = (decided, rule.unit(ctx))
    {
        if b < coverage {
            exposure::offer(id, arm, unit, seed, (b, coverage));
        }
    }
}

/// Clears the note bit of a switch's or setting's `state`, read as `seen`. Failing means a
/// publish wrote a newer state meanwhile: it stands.
fn clear_byte_note(state: &AtomicU8, seen: u8) {
    let _ = state.compare_exchange(seen, seen & !NOTE, Ordering::Relaxed, Ordering::Relaxed);
}

/// Clears the note bit the heartbeat set on a flag's or variant's state word, so the checks
/// after this one take the fast path again. Failing means a publish wrote a newer word.
#[inline]
fn clear_note(state: &AtomicU64) {
    let word = state.load(Ordering::Relaxed);
    if word & NOTE_WORD != 0 {
        let _ = state.compare_exchange(
            word,
            word & !NOTE_WORD,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// Whether the flag at registry id `id`, which a rule requires, is on for `ctx`.
fn required(id: u32, ctx: &Context<'_>) -> bool {
    registry()
        .by_id(id)
        .is_some_and(|t| match t.toggle().cells() {
            Cells::Flag(flag) => flag.is_enabled(ctx),
            _ => false,
        })
}

impl<E: Variants> Variant<E> {
    /// The arm for this context.
    ///
    /// When the arm does not depend on the context (no rule, one arm for everyone, a closed
    /// gate), one relaxed atomic load and a compare; otherwise the toggle's rule is evaluated
    /// in the state the context pinned — one SHA-256 of the unit for the experiment's draw (see
    /// [`VariantRule`](crate::rules::VariantRule) for the order).
    #[inline]
    pub fn get(&self, ctx: &Context<'_>) -> E {
        let state = self.state.load(Ordering::Relaxed);
        if state >> ARM_SHIFT == ctx.generation() {
            match (state & 3) as u8 {
                OFF => return self.default,
                ON => {
                    // The arm is below 256, so it fits.
                    #[allow(clippy::cast_possible_truncation)]
                    let arm = (state >> 2) as u8;
                    if let Some(arm) = E::from_index(usize::from(arm)) {
                        return arm;
                    }
                }
                _ => {}
            }
        }
        self.resolve(ctx)
    }

    #[cold]
    #[inline(never)]
    fn resolve(&self, ctx: &Context<'_>) -> E {
        let arm = self.decide(ctx, true, |arm, _| arm);
        self.usage.note(arm.index());
        clear_note(&self.state);
        arm
    }

    /// The arm for this context and the step of the rule that decided it; always the arm
    /// [`get`](Self::get) gives for the same context.
    ///
    /// ```
    /// use toggles::{toggle, Context, Step, Variant, Variants};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
    /// enum Checkout { Classic, OnePage }
    ///
    /// /// Try the one-page checkout against the classic one.
    /// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
    /// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
    ///
    /// let why = CHECKOUT_FLOW.explain(&Context::new());
    /// assert_eq!(why.arm, Checkout::Classic);
    /// assert_eq!(why.step, Step::Default);
    /// ```
    pub fn explain(&self, ctx: &Context<'_>) -> Assignment<E> {
        self.decide(ctx, false, |arm, decided| Assignment {
            arm,
            step: match decided {
                None => Step::TestOverride,
                Some((rule, decided)) => Step::of(decided, rule),
            },
        })
    }

    /// Records that the unit of `ctx` (its user id, or the rule's `stickiness` attribute)
    /// reached `goal` — a purchase, a sign-up — for the experiment's results: each unit
    /// converts on a goal once, and counts for the arm it was first exposed to, if it was
    /// exposed before. Only a tracked rule's units are counted; a unit the rule cannot identify,
    /// or a toggle without a tracked rule, records nothing.
    ///
    /// Off the path of the request as an exposure is: it hands the conversion to the
    /// installation's exposure thread, which records it in the store.
    ///
    /// ```
    /// use toggles::{toggle, Context, Variant, Variants};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
    /// enum Checkout { Classic, OnePage }
    ///
    /// /// Try the one-page checkout against the classic one.
    /// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
    /// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
    ///
    /// let ctx = Context::new().with_user("42");
    /// let _flow = CHECKOUT_FLOW.get(&ctx);
    /// // ... the user pays:
    /// CHECKOUT_FLOW.convert(&ctx, "purchase");
    /// ```
    pub fn convert(&self, ctx: &Context<'_>, goal: &'static str) {
        let id = self.id.load(Ordering::Relaxed);
        retained::with(ctx.generation(), |compiled| {
            let Some(Entry::Variant(rule)) = compiled.and_then(|c| c.entry(id)) else {
                return;
            };
            if let Some(unit) = rule.unit(ctx).filter(|_| rule.tracks()) {
                exposure::convert(id, goal, unit, rule.seed(unit));
            }
        });
    }

    /// The full evaluation, handed to `answer` with the step that decided (`None` for a test
    /// override); with `expose`, a unit a tracked experiment drew is an exposure.
    fn decide<R>(
        &self,
        ctx: &Context<'_>,
        expose: bool,
        answer: impl FnOnce(E, Option<(Option<&dyn RuleNames>, Decided)>) -> R,
    ) -> R {
        if self.overrides.load(Ordering::Relaxed) > 0 {
            if let Some(arm) = overrides::lookup::<E>(key(self)) {
                return answer(arm, None);
            }
        }
        let id = self.id.load(Ordering::Relaxed);
        retained::with(ctx.generation(), |compiled| {
            let Some(Entry::Variant(rule)) = compiled.and_then(|c| c.entry(id)) else {
                return answer(self.default, Some((None, Decided::Default)));
            };
            let (index, decided, seed) = rule.evaluate_drawn(ctx, &|id| required(id, ctx));
            if expose {
                expose_drawn(rule, id, index, decided, seed, ctx);
            }
            let arm = E::from_index(usize::from(index)).unwrap_or(self.default);
            answer(arm, Some((Some(&**rule), decided)))
        })
    }
}

impl ToggleInfo {
    /// The value in force for a switch or a setting, found through the registry rather than the
    /// typed static (for tools and protocols that know toggles by name); `None` for a flag or a
    /// variant toggle, whose answer needs a [`Context`]. Test overrides are not seen here.
    ///
    /// ```
    /// use toggles::{registry, toggle, Setting, Value};
    ///
    /// /// Largest upload accepted, in bytes.
    /// #[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
    /// static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;
    ///
    /// let info = registry().get("uploads.max_upload_bytes").unwrap();
    /// assert_eq!(info.current(), Some(Value::UInt(10_000_000)));
    /// ```
    pub fn current(&self) -> Option<Value> {
        self.current_value()
    }

    /// A flag's answer for `ctx` and the step that decided it, found through the registry;
    /// `None` for the other kinds.
    pub fn explain(&self, ctx: &Context<'_>) -> Option<Explanation> {
        match self.toggle().cells() {
            Cells::Flag(flag) => Some(flag.explain(ctx)),
            _ => None,
        }
    }

    /// A variant toggle's arm for `ctx`, by name, and the step that decided it, found through
    /// the registry, as [`Variant::get`] gives it: a unit a tracked experiment draws is
    /// exposed (for protocols that serve arms to clients, like OFREP). `None` for the other
    /// kinds. Test overrides are seen only through the typed static.
    ///
    /// ```
    /// use toggles::{registry, toggle, Context, Variant, Variants};
    ///
    /// #[derive(Clone, Copy, Variants)]
    /// enum Checkout { Classic, OnePage }
    ///
    /// /// Try the one-page checkout against the classic one.
    /// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
    /// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
    ///
    /// let info = registry().get("checkout.checkout_flow").unwrap();
    /// assert_eq!(info.assign(&Context::new()).unwrap().arm, "classic");
    /// ```
    pub fn assign(&self, ctx: &Context<'_>) -> Option<Assignment<&'static str>> {
        self.arm_for(ctx, true)
    }

    /// [`assign`](Self::assign), for diagnostics: nobody is exposed, as
    /// [`Variant::explain`] exposes nobody.
    pub fn explain_arm(&self, ctx: &Context<'_>) -> Option<Assignment<&'static str>> {
        self.arm_for(ctx, false)
    }

    fn arm_for(&self, ctx: &Context<'_>, expose: bool) -> Option<Assignment<&'static str>> {
        let Cells::Variant(cells) = self.toggle().cells() else {
            return None;
        };
        let id = cells.id.load(Ordering::Relaxed);
        Some(retained::with(ctx.generation(), |compiled| {
            let (arm, step) = match compiled.and_then(|c| c.entry(id)) {
                Some(Entry::Variant(rule)) => {
                    let (arm, decided, seed) = rule.evaluate_drawn(ctx, &|id| required(id, ctx));
                    if expose {
                        expose_drawn(rule, id, arm, decided, seed, ctx);
                    }
                    (usize::from(arm), Step::of(decided, Some(&**rule)))
                }
                _ => (cells.control, Step::Default),
            };
            Assignment {
                arm: cells.arms.get(arm).copied().unwrap_or_default(),
                step,
            }
        }))
    }

    fn current_value(&self) -> Option<Value> {
        match self.toggle().cells() {
            Cells::Switch(switch) => Some(Value::Bool(switch.is_enabled())),
            Cells::Flag(_) | Cells::Variant(_) => None,
            Cells::Setting(setting) => Some(if setting.state.load(Ordering::Acquire) == STORED {
                (setting.value)(setting.bits.load(Ordering::Relaxed))
            } else {
                let id = setting.id.load(Ordering::Relaxed);
                match retained::newest().as_deref().and_then(|c| c.entry(id)) {
                    Some(Entry::Setting(bits)) => (setting.value)(*bits),
                    _ => setting.default,
                }
            }),
        }
    }
}

impl<T: SettingValue> Setting<T> {
    /// The current value: a test override in scope, else the store's value, else the compiled
    /// default. One atomic load, and a second for a value the store set.
    #[inline]
    pub fn get(&self) -> T {
        match self.state.load(Ordering::Acquire) {
            STORED => T::from_bits(self.bits.load(Ordering::Relaxed)),
            OFF => self.default,
            _ => self.resolve(),
        }
    }

    /// A test override is in scope somewhere, or the heartbeat asked for the next read to
    /// note it.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> T {
        self.usage.note(0);
        let state = self.state.load(Ordering::Acquire);
        if state & NOTE != 0 {
            clear_byte_note(&self.state, state);
            match state & !NOTE {
                STORED => return T::from_bits(self.bits.load(Ordering::Relaxed)),
                OFF => return self.default,
                _ => {}
            }
        }
        if let Some(value) = overrides::lookup::<T>(key(self)) {
            return value;
        }
        stored(&self.id, |entry| match entry {
            Some(Entry::Setting(bits)) => T::from_bits(*bits),
            _ => self.default,
        })
    }
}
