//! A view mounted for a browser test, in a container of its own at the end
//! of the page, and the queries the tests make on it.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// A mounted view; unmounted when dropped.
pub struct Mounted {
    /// The element the view is mounted in.
    pub container: HtmlElement,
    _mounted: Box<dyn std::any::Any>,
}

impl Mounted {
    /// Mounts `view` in a new container appended to the page's body.
    pub fn new<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Mounted {
        let document = web_sys::window().unwrap().document().unwrap();
        let container: HtmlElement = document.create_element("div").unwrap().unchecked_into();
        document.body().unwrap().append_child(&container).unwrap();
        let mounted = leptos::mount::mount_to(container.clone(), view);
        Mounted {
            container,
            _mounted: Box::new(mounted),
        }
    }

    /// The first element matching `selector`, if any.
    pub fn find(&self, selector: &str) -> Option<Element> {
        self.container.query_selector(selector).unwrap()
    }

    /// The first element matching `selector`; fails the test naming it when none does.
    pub fn get(&self, selector: &str) -> Element {
        self.find(selector)
            .unwrap_or_else(|| panic!("nothing matches {selector}"))
    }

    /// Every element matching `selector`.
    pub fn all(&self, selector: &str) -> Vec<Element> {
        let found = self.container.query_selector_all(selector).unwrap();
        (0..found.length())
            .map(|index| found.item(index).unwrap().unchecked_into())
            .collect()
    }

    /// The text of the first element matching `selector`.
    pub fn text(&self, selector: &str) -> String {
        self.get(selector).text_content().unwrap()
    }

    /// Clicks the first element matching `selector`.
    pub fn click(&self, selector: &str) {
        self.get(selector).unchecked_into::<HtmlElement>().click();
    }

    /// Sets a field's value and sends the event its component listens to.
    pub fn enter(&self, selector: &str, value: &str, event: &str) {
        let field = self.get(selector);
        js_sys::Reflect::set(&field, &"value".into(), &value.into()).unwrap();
        field
            .dispatch_event(&web_sys::Event::new(event).unwrap())
            .unwrap();
    }
}
