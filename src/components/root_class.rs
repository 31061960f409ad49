//! The class list of a component's root element: the class every
//! component's root has, the component's own, then whatever the host app
//! passed as `class`; and the root's inline style, for the components that
//! take a `style` too.

use leptos::prelude::*;

/// The class every component's root has: the stylesheet gives it the
/// theme's font and text colour (`--pr-font`, `--pr-text`), so a host that
/// sets them on a wrapper sees the components follow.
pub const COMPONENT_CLASS: &str = "pr-component";

/// The root's class list: [`COMPONENT_CLASS`], `own` (which the stylesheet
/// styles), then the host's `class` when given. Reactive: it follows `host`
/// when that is a signal, so the host can restyle a mounted component.
///
/// Every component calls this one function, so the closure it returns is a
/// single type, and the code that keeps the `class` attribute up to date is
/// compiled once (the bundle has a budget).
pub(crate) fn root_class(
    own: &'static str,
    host: MaybeProp<String>,
) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || {
        host.with(|host| match host.as_deref().map(str::trim) {
            Some(host) if !host.is_empty() => format!("{COMPONENT_CLASS} {own} {host}"),
            _ => format!("{COMPONENT_CLASS} {own}"),
        })
    }
}

/// The root's inline style: the host's `style`, or none (an empty
/// attribute). Reactive like [`root_class`], and one function for the same
/// reason: the code that keeps the `style` attribute up to date is compiled
/// once for every component that takes a `style`.
pub(crate) fn root_style(
    host: MaybeProp<String>,
) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || host.get().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{root_class, root_style};
    use leptos::prelude::*;

    #[test]
    fn the_components_classes_then_the_hosts() {
        assert_eq!(
            root_class("history", MaybeProp::default())(),
            "pr-component history"
        );
        assert_eq!(
            root_class("history", "sidebar wide".into())(),
            "pr-component history sidebar wide"
        );
        assert_eq!(
            root_class("history", " ".into())(),
            "pr-component history",
            "a blank class adds nothing"
        );
        let host = RwSignal::new("narrow".to_owned());
        let class = root_class("grid", host.into());
        assert_eq!(class(), "pr-component grid narrow");
        host.set("wide".to_owned());
        assert_eq!(class(), "pr-component grid wide", "it follows the signal");
    }

    #[test]
    fn the_hosts_style_or_none() {
        assert_eq!(root_style(MaybeProp::default())(), "");
        let host = RwSignal::new("max-width: 40rem".to_owned());
        let style = root_style(host.into());
        assert_eq!(style(), "max-width: 40rem");
        host.set("max-width: 60rem".to_owned());
        assert_eq!(style(), "max-width: 60rem", "it follows the signal");
    }
}
