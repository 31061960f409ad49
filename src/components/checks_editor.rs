//! ChecksEditor: the checks applied to every answer of the open experiment,
//! added and removed; the grid re-evaluates them without re-running anything.

use super::experiments::{use_experiments, Experiments};
use super::format::typed_number;
use super::root_class::root_class;
use crate::experiment::{Check, CheckError, JudgeCheck, Pattern, BUILT_IN_RUBRICS};
use crate::model::Usd;
use leptos::prelude::*;

/// The kind of a model-graded check, whose value is its own fields.
const JUDGE_KIND: &str = "modelGraded";

/// The rubric choice that is written rather than built in.
const CUSTOM_RUBRIC: &str = "custom";

/// The judge offered first when the server has it: the offline one, which
/// grades with no network.
const PREFERRED_JUDGE: &str = "offline-judge";

/// The judge offered before a person picks one, of the server's models
/// `ids`: the offline judge, else the first.
pub(super) fn default_judge(ids: &[String]) -> Option<String> {
    (ids.iter().find(|id| *id == PREFERRED_JUDGE).or(ids.first())).cloned()
}

/// The kinds of check a person picks from, with what their value means.
const KINDS: [(&str, &str); 10] = [
    ("contains", "Contains (any case)"),
    ("notContains", "Does not contain (any case)"),
    ("regex", "Matches a regular expression"),
    ("equals", "Equals (trimmed)"),
    ("validJson", "Is valid JSON"),
    ("jsonHasKey", "JSON has key (user.name or /user/name)"),
    ("maxLength", "At most N characters"),
    ("maxLatency", "Takes at most N ms"),
    ("maxCost", "Costs at most $N"),
    (JUDGE_KIND, "Graded by a judge model (rubric)"),
];

/// The open experiment's checks, each with what it asks and a Remove
/// button, and a form to add one: its kind and its value (text, pattern,
/// key path or number), or a model-graded one: a rubric (built in, or
/// written with `{{output}}` where the answer goes), a judge model among
/// the server's (the offline judge first) and the score it passes from. A
/// check that cannot mean anything (an invalid
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
    let rubric = RwSignal::new("0".to_owned());
    let rubric_text = RwSignal::new(String::new());
    let judge = RwSignal::new(None::<String>);
    let threshold = RwSignal::new("0.5".to_owned());
    let judging = move || kind.with(|kind| kind == JUDGE_KIND);
    let store = experiments.store();
    let judges = move || {
        store
            .models()
            .into_iter()
            .map(|model| model.id)
            .collect::<Vec<_>>()
    };
    // The judge shown: the one picked, else the offline judge, else the first model.
    let chosen_judge = move || judge.get().or_else(|| default_judge(&judges()));
    let made = move || {
        if judging() {
            new_judge_check(
                &rubric.get_untracked(),
                &rubric_text.get_untracked(),
                &untrack(chosen_judge).unwrap_or_default(),
                threshold.get_untracked().trim(),
            )
        } else {
            new_check(&kind.get_untracked(), value.get_untracked().trim())
        }
    };
    let add = move || match made() {
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
                    prop:disabled=move || kind.with(|kind| kind == "validJson" || kind == JUDGE_KIND)
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event))
                    on:keydown=move |event: leptos::ev::KeyboardEvent| if event.key() == "Enter" { event.prevent_default(); add() }/>
            </label>
            <div class="checks__judging" prop:hidden=move || !judging()>
                <label>
                    "Rubric "
                    <select class="checks__rubric" prop:value=move || rubric.get() on:change=move |event| rubric.set(event_target_value(&event))>
                        {BUILT_IN_RUBRICS.iter().enumerate().map(|(index, (name, _))| view! {
                            <option value=index.to_string()>{format!("Built in: {name}")}</option>
                        }).collect_view()}
                        <option value=CUSTOM_RUBRIC>"My own rubric"</option>
                    </select>
                </label>
                <label prop:hidden=move || rubric.with(|rubric| rubric != CUSTOM_RUBRIC)>
                    "Rubric text ({{output}} is the answer, {{prompt}} its prompt, {{expected}} or any {{column}} the row's value) "
                    <textarea class="checks__rubric-text" rows="4"
                        prop:value=move || rubric_text.get()
                        on:input=move |event| rubric_text.set(event_target_value(&event))></textarea>
                </label>
                <label>
                    "Judge model "
                    <select class="checks__judge" prop:value=move || chosen_judge().unwrap_or_default()
                        on:change=move |event| judge.set(Some(event_target_value(&event)))>
                        {move || judges().into_iter().map(|id| view! { <option value=id.clone()>{id.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Passes from score (0 to 1) "
                    <input type="text" class="checks__threshold" inputmode="decimal"
                        prop:value=move || threshold.get()
                        on:input=move |event| threshold.set(event_target_value(&event))/>
                </label>
            </div>
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

/// A model-graded check: built-in rubric `rubric` (an index of
/// [`BUILT_IN_RUBRICS`]) or, for [`CUSTOM_RUBRIC`], `text`; graded by
/// `judge`, passing from score `threshold`; or why not.
fn new_judge_check(
    rubric: &str,
    text: &str,
    judge: &str,
    threshold: &str,
) -> Result<Check, String> {
    let threshold = typed_number(threshold)
        .filter(|number| (0.0..=1.0).contains(number))
        .ok_or_else(|| format!("the pass score {threshold:?} is not a number from 0 to 1"))?;
    let rubric = match rubric
        .parse::<usize>()
        .ok()
        .and_then(|index| BUILT_IN_RUBRICS.get(index))
    {
        Some((_, built_in)) => (*built_in).to_owned(),
        None => text.trim().to_owned(),
    };
    let check = Check::Judge(JudgeCheck {
        rubric,
        judge: judge.to_owned(),
        threshold,
        expected: None,
    });
    check
        .validate()
        .map_err(|error: CheckError| error.to_string())?;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::{new_check, new_judge_check};
    use crate::experiment::{Check, JudgeCheck};

    #[test]
    fn judge_checks_are_made_from_a_rubric_a_judge_and_a_pass_score() {
        assert_eq!(
            new_judge_check("1", "ignored", "offline-judge", "0.5"),
            Ok(Check::Judge(JudgeCheck::built_in(1, "offline-judge")))
        );
        let Ok(Check::Judge(custom)) =
            new_judge_check("custom", " Is {{output}} polite? ", "m", "0.8")
        else {
            panic!("a custom rubric")
        };
        assert_eq!(
            (&*custom.rubric, custom.threshold),
            ("Is {{output}} polite?", 0.8)
        );
        assert!(new_judge_check("custom", "Is it polite?", "m", "0.5")
            .unwrap_err()
            .contains("{{output}}"));
        assert!(new_judge_check("0", "", "m", "2")
            .unwrap_err()
            .contains("from 0 to 1"));
        assert!(new_judge_check("0", "", "", "0.5")
            .unwrap_err()
            .contains("judge model"));
    }

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
