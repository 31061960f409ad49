//! The embedding example's page, as Trunk builds it: mounts
//! [`prompt_runs_embed_example::TeamRuns`].

fn main() {
    #[cfg(target_arch = "wasm32")]
    leptos::mount::mount_to_body(prompt_runs_embed_example::TeamRuns);
}
