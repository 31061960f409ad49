//! NumberField: a number a person types (a budget, repeats, max tokens, a
//! temperature), taken when it is one the field accepts and otherwise
//! refused where it was typed, with the reason; and the rules of each
//! field, so that the experiment editor and the prompt composer read a
//! typed number alike.
//!
//! A refused number changes nothing: the field keeps what was typed (never
//! silently emptied, clamped or rounded) and says why beside it, and the
//! value it edits keeps its last valid one.

use super::format::typed_number;
use crate::experiment::MAX_REPEATS;
use crate::model::Usd;
use leptos::prelude::*;
use std::sync::Arc;

/// What a [`NumberField`] shows: a tracked read of the value in force.
pub(crate) type Shown = Arc<dyn Fn() -> String + Send + Sync>;

/// A labelled text field for a number: shows `value` (the value in force,
/// as text); on change hands what was typed to `commit`, which applies it
/// and answers `None`, or refuses it and answers why. While refused, the
/// field keeps the typed text, is marked `aria-invalid`, and the reason
/// shows beside it (`{class}-why`, an alert) until a number is taken or the
/// value changes elsewhere.
///
/// Not generic, and its callbacks boxed rather than signals and
/// `Callback`s: one compiled copy serves every field of the app, with no
/// derived signal's code (the playground's bundle has a budget).
#[component]
pub(crate) fn NumberField(
    /// The words before the field.
    label: &'static str,
    /// The input's class; the reason's is `{class}-why`.
    class: &'static str,
    /// Shown in the empty field (what empty means).
    placeholder: &'static str,
    /// `numeric` (whole numbers) or `decimal`, for on-screen keyboards.
    inputmode: &'static str,
    /// The value in force, as the field shows it (a tracked read).
    value: Shown,
    /// Applies a typed text, or says why it is refused.
    commit: Box<dyn Fn(String) -> Option<String>>,
) -> impl IntoView {
    // What was typed and refused, why, and the value in force then: once
    // the value changes elsewhere (another experiment opened), the refusal
    // is over. Compared where read rather than reset by an effect, which
    // would cost the bundle an effect's code for this one field.
    let refused = RwSignal::new(None::<(String, String, String)>);
    // One closure type for every read: the typed text or the reason, while
    // the refusal holds.
    let held = value.clone();
    let current = move |read: fn(&(String, String, String)) -> String| {
        let shown = held.clone();
        move || {
            let now = shown();
            refused.with(|refused| match refused {
                Some(refusal) if refusal.2 == now => Some(read(refusal)),
                _ => None,
            })
        }
    };
    let (typed, why) = (
        current(|refusal| refusal.0.clone()),
        current(|refusal| refusal.1.clone()),
    );
    let invalid = why.clone();
    let shown = value.clone();
    view! {
        <label>
            {label}
            <input
                type="text"
                class=class
                inputmode=inputmode
                placeholder=placeholder
                aria-invalid=move || invalid().map(|_| "true")
                prop:value=move || typed().unwrap_or_else(|| shown())
                on:change=move |event| {
                    let typed = event_target_value(&event);
                    let was = untrack(|| value());
                    refused.set(commit(typed.clone()).map(|why| (typed, why, was)));
                }
            />
        </label>
        <span class=format!("{class}-why") role="alert">{why}</span>
    }
}

/// A typed budget in dollars: empty is none; otherwise a number over 0.
pub(crate) fn budget(text: &str) -> Result<Option<Usd>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match typed_number(text) {
        Some(dollars) if dollars > 0.0 => Ok(Some(Usd::from_dollars(dollars))),
        Some(_) => Err(format!(
            "The budget must be more than $0, not {}; leave it empty for no budget.",
            text.trim()
        )),
        None => Err(format!(
            "“{}” is not an amount in dollars: type one such as 0.50, or leave it empty for no budget.",
            text.trim()
        )),
    }
}

/// Typed repeats: a whole number from 1 to [`MAX_REPEATS`].
pub(crate) fn repeats(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(repeats) if (1..=MAX_REPEATS).contains(&repeats) => Ok(repeats),
        _ => Err(format!(
            "Repeats are a whole number from 1 to {MAX_REPEATS}, not “{}”.",
            text.trim()
        )),
    }
}

/// A typed answer length: empty is the server's default; otherwise a whole
/// number from 1.
pub(crate) fn max_tokens(text: &str) -> Result<Option<u32>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match text.trim().parse::<u32>() {
        Ok(tokens) if tokens > 0 => Ok(Some(tokens)),
        _ => Err(format!(
            "Max tokens is a whole number from 1, not “{}”; leave it empty for the server's default.",
            text.trim()
        )),
    }
}

/// A typed temperature: empty is the server's default; otherwise a number
/// from 0 to 2.
pub(crate) fn temperature(text: &str) -> Result<Option<f64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match typed_number(text) {
        Some(temperature) if (0.0..=2.0).contains(&temperature) => Ok(Some(temperature)),
        _ => Err(format!(
            "Temperature is a number from 0 to 2, not “{}”; leave it empty for the server's default.",
            text.trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_an_amount_over_zero_or_nothing() {
        assert_eq!(budget(" 0.50 "), Ok(Some(Usd::from_dollars(0.5))));
        assert_eq!(budget(".25"), Ok(Some(Usd::from_dollars(0.25))));
        assert_eq!(budget(""), Ok(None), "empty: no budget");
        assert_eq!(
            budget("ten dollars"),
            Err("“ten dollars” is not an amount in dollars: type one such as 0.50, or leave it empty for no budget.".into())
        );
        assert_eq!(
            budget("0"),
            Err("The budget must be more than $0, not 0; leave it empty for no budget.".into())
        );
        assert!(budget("-1").is_err());
    }

    #[test]
    fn repeats_over_the_limit_are_refused_not_clamped() {
        assert_eq!(repeats("3"), Ok(3));
        assert_eq!(repeats(" 10 "), Ok(10));
        assert_eq!(
            repeats("50"),
            Err("Repeats are a whole number from 1 to 10, not “50”.".into())
        );
        for refused in ["0", "", "2.5", "three", "-1"] {
            assert!(repeats(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn max_tokens_and_temperature_as_typed_or_the_servers_default() {
        assert_eq!(max_tokens(" 256 "), Ok(Some(256)));
        assert_eq!(max_tokens(""), Ok(None));
        assert_eq!(
            max_tokens("1.5"),
            Err("Max tokens is a whole number from 1, not “1.5”; leave it empty for the server's default.".into())
        );
        assert!(max_tokens("0").is_err());
        assert!(max_tokens("lots").is_err());
        assert_eq!(temperature("0.7"), Ok(Some(0.7)));
        assert_eq!(temperature("0"), Ok(Some(0.0)));
        assert_eq!(temperature(".5"), Ok(Some(0.5)));
        assert_eq!(temperature(" "), Ok(None));
        assert_eq!(
            temperature("3"),
            Err("Temperature is a number from 0 to 2, not “3”; leave it empty for the server's default.".into())
        );
        assert!(temperature("-1").is_err());
        assert!(temperature("warm").is_err());
    }
}
