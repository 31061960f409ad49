//! Entry point of the static app that Trunk builds: mounts [`prompt_runs::app::App`] on the page.

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(prompt_runs::app::App);
    }
}
