//! A store driven natively, without a browser: its executor is a test
//! double the test holds too, and its futures run on a pool the test turns.

use futures::executor::LocalPool;
use leptos::prelude::Owner;
use prompt_runs::api::PromptExecutor;
use prompt_runs::store::RunsStore;

/// A store under an owner of its own, executing through `server`.
pub struct Setup<S> {
    _owner: Owner,
    /// The store.
    pub store: RunsStore,
    /// Its executor, as the test sees it.
    pub server: S,
    /// Where the store's futures run: `pool.run_until_stalled()`.
    pub pool: LocalPool,
}

/// A fresh store executing through a new `S`.
pub fn setup<S: PromptExecutor + Clone + Default + 'static>() -> Setup<S> {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let server = S::default();
    store.set_executor(server.clone());
    Setup {
        _owner: owner,
        store,
        server,
        pool: LocalPool::new(),
    }
}
