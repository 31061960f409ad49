//! The smallest Leptos 0.8 client-side app worth timing: a counter and a
//! short keyed table, nothing else. The start-up benchmark
//! (`e2e/benches/startup.rs`) times its first contentful paint beside the
//! app's, both release builds made by Trunk with the workspace's release
//! profile and the same wasm-opt settings, so the difference is what the
//! app does at start rather than how it is built.
//!
//! Build it with `trunk build --release` in this directory (`cargo xtask
//! bench` does).

use leptos::prelude::*;

/// A counter above a table of five rows.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[component]
fn Minimal() -> impl IntoView {
    let count = RwSignal::new(0);
    let rows = (1..=5)
        .map(|id| (id, format!("row {id}")))
        .collect::<Vec<_>>();
    view! {
        <h1>"Minimal Leptos"</h1>
        <button on:click=move |_| *count.write() += 1>
            "Clicked " {move || count.get()} " times"
        </button>
        <table>
            <tbody>
                <For each=move || rows.clone() key=|(id, _)| *id let((id, label))>
                    <tr><td>{id}</td><td>{label}</td></tr>
                </For>
            </tbody>
        </table>
    }
}

fn main() {
    // Natively (`cargo test --workspace`) it only has to compile.
    #[cfg(target_arch = "wasm32")]
    leptos::mount::mount_to_body(Minimal);
}
