//! The read API of the toggle types: each check reads the cached state `publish` wrote, and
//! only its cold path looks further.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::compile::Entry;
use crate::declare::{
    key, registry, Cells, Flag, Setting, SettingValue, Switch, ToggleInfo, Value, OFF, ON, STORED,
};
use crate::state::{overrides, retained};
use crate::targeting::{CompiledRule, Context, Decided, Explanation};

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

    /// A test override is in scope somewhere.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> bool {
        if let Some(on) = overrides::lookup::<bool>(key(self)) {
            return on;
        }
        stored(&self.id, |entry| match entry {
            Some(Entry::Switch(on)) => *on,
            _ => self.default,
        })
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
        self.decide(ctx, |on, _| on)
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
        answer: impl FnOnce(bool, Option<(Option<&CompiledRule>, Decided)>) -> R,
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
            let required = |id: u32| {
                registry()
                    .by_id(id)
                    .is_some_and(|t| match t.toggle().cells() {
                        Cells::Flag(flag) => flag.is_enabled(ctx),
                        _ => false,
                    })
            };
            match rule.evaluate(ctx, &required) {
                Some((on, decided)) => answer(on, Some((Some(rule), decided))),
                None => answer(self.default, Some((Some(rule), Decided::Default))),
            }
        })
    }
}

impl ToggleInfo {
    /// The value in force for a switch or a setting, found through the registry rather than the
    /// typed static (for tools and protocols that know toggles by name); `None` for a flag, whose
    /// answer needs a [`Context`]. Test overrides are not seen here.
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
    /// `None` for a switch or a setting.
    pub fn explain(&self, ctx: &Context<'_>) -> Option<Explanation> {
        match self.toggle().cells() {
            Cells::Flag(flag) => Some(flag.explain(ctx)),
            _ => None,
        }
    }

    fn current_value(&self) -> Option<Value> {
        match self.toggle().cells() {
            Cells::Switch(switch) => Some(Value::Bool(switch.is_enabled())),
            Cells::Flag(_) => None,
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

    /// A test override is in scope somewhere.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> T {
        if let Some(value) = overrides::lookup::<T>(key(self)) {
            return value;
        }
        stored(&self.id, |entry| match entry {
            Some(Entry::Setting(bits)) => T::from_bits(*bits),
            _ => self.default,
        })
    }
}
