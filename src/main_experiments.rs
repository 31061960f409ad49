//! Entry point of the app's Experiments page, a bundle of its own that Trunk
//! builds from `experiments.html`: mounts [`prompt_runs::app::ExperimentsApp`].

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(prompt_runs::app::ExperimentsApp);
    }
}
