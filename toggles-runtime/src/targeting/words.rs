//! A flag rule in words, in the order it is applied: who gets what, for a person reading a
//! page or a report at a glance.

use crate::targeting::FlagRule;

impl FlagRule {
    /// Who gets what under this rule, step by step in the order the rule is applied, for a flag
    /// whose compiled default is `default`: `off outside production; on for user ana; off on
    /// site white-label.example.com; on for 30% of users by user id`. A step that decides for
    /// everyone ends it.
    ///
    /// ```
    /// use toggles::rules::FlagRule;
    ///
    /// let rule = FlagRule::new()
    ///     .environments(["production"])
    ///     .users_on(["ana"])
    ///     .sites_off(["white-label.example.com"])
    ///     .percent(30.0);
    /// assert_eq!(
    ///     rule.describe(false),
    ///     "off outside production; off on site white-label.example.com; on for user ana; \
    ///      on for 30% of the others by user id"
    /// );
    /// assert_eq!(FlagRule::new().active(false).describe(true), "off for everyone (inactive)");
    /// assert_eq!(FlagRule::new().describe(true), "on for everyone (the compiled default)");
    /// ```
    pub fn describe(&self, default: bool) -> String {
        if !self.active {
            return "off for everyone (inactive)".to_owned();
        }
        let mut steps: Vec<String> = Vec::new();
        if let Some(from) = self.from {
            steps.push(format!("off before {from}"));
        }
        if let Some(until) = self.until {
            steps.push(format!("off from {until}"));
        }
        if !self.environments.is_empty() {
            steps.push(format!("off outside {}", or_list(&self.environments)));
        }
        for flag in &self.requires {
            steps.push(format!("off unless `{flag}` is on"));
        }
        for (attribute, values) in &self.constraints {
            steps.push(format!("off unless {attribute} is {}", or_list(values)));
        }
        listed(
            &mut steps,
            "on site",
            "on sites",
            &self.sites.on,
            &self.sites.off,
        );
        listed(
            &mut steps,
            "for user",
            "for users",
            &self.users.on,
            &self.users.off,
        );
        for group in &self.groups {
            let one = format!("for {}", group.kind);
            listed(&mut steps, &one, &one, &group.on, &group.off);
        }
        let anyone = if steps.is_empty() {
            "everyone"
        } else {
            "everyone else"
        };
        let last = match (self.everyone, self.percent) {
            (Some(on), _) => format!("{} for {anyone}", on_off(on)),
            (None, Some(p)) if p <= 0.0 => format!("off for {anyone}"),
            (None, Some(p)) if p >= 100.0 => format!("on for {anyone}"),
            (None, Some(p)) => {
                let unit = self
                    .stickiness
                    .as_deref()
                    .map_or_else(|| "user id".to_owned(), |a| format!("`{a}`"));
                let whom = if steps.is_empty() {
                    "users"
                } else {
                    "the others"
                };
                format!("on for {p}% of {whom} by {unit}")
            }
            (None, None) => format!("{} for {anyone} (the compiled default)", on_off(default)),
        };
        steps.push(last);
        steps.join("; ")
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// `US or RO`, `production, staging or eu`.
fn or_list(values: &[String]) -> String {
    match values.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The off list's step, then the on list's (as the rule applies a listed id: off wins).
fn listed(steps: &mut Vec<String>, one: &str, many: &str, on: &[String], off: &[String]) {
    for (ids, answer) in [(off, "off"), (on, "on")] {
        if !ids.is_empty() {
            let what = if ids.len() == 1 { one } else { many };
            steps.push(format!("{answer} {what} {}", ids.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::targeting::{FlagRule, Timestamp};

    #[test]
    fn every_step_in_the_order_it_is_applied() {
        let rule = FlagRule::new()
            .window(
                Some(Timestamp::from_unix_seconds(1_800_000_000)),
                Some(Timestamp::from_unix_seconds(1_900_000_000)),
            )
            .environments(["production", "staging", "eu"])
            .requires("billing.new_invoices")
            .constraint("region", ["US", "RO"])
            .sites_on(["a.example.com"])
            .users_on(["ana", "bob"])
            .users_off(["carl"])
            .groups_on("course", ["c1"])
            .groups_off("org", ["o1", "o2"])
            .everyone(false);
        assert_eq!(
            rule.describe(true),
            "off before 2027-01-15T08:00:00Z; off from 2030-03-17T17:46:40Z; \
             off outside production, staging or eu; off unless `billing.new_invoices` is on; \
             off unless region is US or RO; on on site a.example.com; off for user carl; \
             on for users ana, bob; on for course c1; off for org o1, o2; off for everyone else"
        );
    }

    #[test]
    fn the_last_step_says_who_the_rest_are() {
        assert_eq!(
            FlagRule::new()
                .percent(12.5)
                .stickiness("org")
                .describe(false),
            "on for 12.5% of users by `org`"
        );
        assert_eq!(
            FlagRule::new().percent(0.0).describe(true),
            "off for everyone"
        );
        assert_eq!(
            FlagRule::new()
                .users_on(["ana"])
                .percent(100.0)
                .describe(false),
            "on for user ana; on for everyone else"
        );
        assert_eq!(
            FlagRule::new().users_off(["ana"]).describe(true),
            "off for user ana; on for everyone else (the compiled default)"
        );
    }
}
