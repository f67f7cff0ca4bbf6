//! A spinner on the terminal while the store works; nothing when standard error is piped.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs `work`, showing `message` with a spinner on standard error if it is a terminal (a
/// report over the network can take seconds); in a pipe or a CI log, prints nothing.
pub(crate) fn during<T>(message: &str, work: impl FnOnce() -> T) -> T {
    // `stderr()` draws only when standard error is a terminal.
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    let result = work();
    spinner.finish_and_clear();
    result
}
