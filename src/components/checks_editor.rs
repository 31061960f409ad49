//! ChecksEditor: the checks applied to every answer of the open experiment,
//! added and removed; the grid re-evaluates them without re-running anything.

use super::experiments::{use_experiments, Experiments};
use super::format::typed_number;
use super::root_class::root_class;
use crate::experiment::{Check, CheckError, Pattern};
use crate::model::Usd;
use leptos::prelude::*;

/// The kinds of check a person picks from, with what their value means.
const KINDS: [(&str, &str); 9] = [
    ("contains", "Contains (any case)"),
    ("notContains", "Does not contain (any case)"),
    ("regex", "Matches a regular expression"),
    ("equals", "Equals (trimmed)"),
    ("validJson", "Is valid JSON"),
    ("jsonHasKey", "JSON has key (user.name or /user/name)"),
    ("maxLength", "At most N characters"),
    ("maxLatency", "Takes at most N ms"),
    ("maxCost", "Costs at most $N"),
];

/// The open experiment's checks, each with what it asks and a Remove
/// button, and a form to add one: its kind and its value (text, pattern,
/// key path or number). A check that cannot mean anything (an invalid
/// regular expression, empty text, a value that is not a number) is refused
/// with the reason and not added. Checks are evaluated in the browser, in
/// Rust (regexes by the browser's `RegExp`); nothing typed here is run as code.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, ChecksEditor};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Checks() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None).create("Checked");
///     view! { <ChecksEditor/> }
/// }
/// ```
#[component]
pub fn ChecksEditor(
    /// The experiments whose open one's checks to edit; by default those in context.
    #[prop(optional)]
    experiments: Option<Experiments>,
    /// Classes the host adds to the root element, after its own `checks`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = experiments.unwrap_or_else(use_experiments);
    let kind = RwSignal::new(KINDS[0].0.to_owned());
    let value = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let add = move || match new_check(&kind.get_untracked(), value.get_untracked().trim()) {
        Ok(check) => {
            experiments.edit(|experiment| experiment.checks.push(check));
            value.set(String::new());
            problem.set(None);
        }
        Err(why) => problem.set(Some(format!("The check was not added: {why}"))),
    };
    let checks = move || {
        experiments
            .open()
            .map(|experiment| experiment.checks.clone())
            .unwrap_or_default()
    };

    view! {
        <fieldset class=root_class("checks", class)>
            <legend>"Checks"</legend>
            <ul class="checks__list">
                {move || checks().into_iter().enumerate().map(|(index, check)| view! {
                    <li class="checks__check">
                        {check.label()}
                        " "
                        <button type="button" aria-label=format!("Remove the check {}", check.label())
                            on:click=move |_| experiments.edit(|experiment| { experiment.checks.remove(index); })
                        >"Remove"</button>
                    </li>
                }).collect_view()}
            </ul>
            <label>
                "Kind "
                <select class="checks__kind" prop:value=move || kind.get() on:change=move |event| kind.set(event_target_value(&event))>
                    {KINDS.map(|(name, label)| view! { <option value=name>{label}</option> })}
                </select>
            </label>
            <label>
                "Value "
                <input type="text" class="checks__value"
                    prop:disabled=move || kind.with(|kind| kind == "validJson")
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event))
                    on:keydown=move |event: leptos::ev::KeyboardEvent| if event.key() == "Enter" { event.prevent_default(); add() }/>
            </label>
            <button type="button" class="checks__add" on:click=move |_| add()>"Add check"</button>
            <p class="checks__problem" role="status">{move || problem.get()}</p>
        </fieldset>
    }
}

/// The check of kind `kind` (a [`KINDS`] name) with `value`, or why not.
fn new_check(kind: &str, value: &str) -> Result<Check, String> {
    let number = || {
        typed_number(value)
            .filter(|number| *number >= 0.0)
            .ok_or_else(|| format!("{value:?} is not a number of 0 or more"))
    };
    let check = match kind {
        "contains" => Check::Contains {
            text: value.to_owned(),
            case_sensitive: false,
        },
        "notContains" => Check::NotContains {
            text: value.to_owned(),
            case_sensitive: false,
        },
        "regex" => Check::Regex {
            pattern: Pattern::new(value, false).map_err(|error| error.to_string())?,
        },
        "equals" => Check::Equals {
            text: value.to_owned(),
        },
        "validJson" => Check::ValidJson,
        "jsonHasKey" => Check::JsonHasKey {
            path: value.to_owned(),
        },
        "maxLength" => Check::MaxLength {
            characters: number()? as usize,
        },
        "maxLatency" => Check::MaxLatency {
            ms: number()? as u64,
        },
        "maxCost" => Check::MaxCost {
            usd: Usd::from_dollars(number()?),
        },
        other => return Err(format!("unknown kind {other}")),
    };
    check
        .validate()
        .map_err(|error: CheckError| error.to_string())?;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::new_check;
    use crate::experiment::Check;

    #[test]
    fn checks_are_made_from_what_is_typed_or_refused_with_why() {
        assert_eq!(
            new_check("contains", "Paris"),
            Ok(Check::Contains {
                text: "Paris".into(),
                case_sensitive: false
            })
        );
        assert_eq!(
            new_check("maxLength", "120"),
            Ok(Check::MaxLength { characters: 120 })
        );
        assert_eq!(new_check("validJson", ""), Ok(Check::ValidJson));
        assert_eq!(
            new_check("contains", ""),
            Err("the check needs some text to look for".into())
        );
        assert!(new_check("maxLatency", "soon")
            .unwrap_err()
            .contains("not a number"));
        assert!(new_check("maxCost", "-1")
            .unwrap_err()
            .contains("not a number"));
        assert!(new_check("regex", "(open")
            .unwrap_err()
            .contains("is not valid"));
    }
}
