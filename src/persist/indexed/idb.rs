//! IndexedDB, awaited: the few operations persistence needs, on web-sys's
//! bindings, each request a future.
//!
//! Written here rather than with a crate (`idb`, `rexie`,
//! `indexed_db_futures`): see README.md, "Where the history is kept".
//!
//! Every future here resolves inside the IndexedDB event that completes its
//! request (wasm-bindgen-futures runs woken tasks in the same microtask
//! checkpoint), so a transaction stays active across `.await`s on its own
//! requests. Awaiting anything else (a timer, a fetch) in the middle of a
//! transaction lets it commit early: never do that.

pub(crate) use crate::persist::js_error::describe;
use futures::channel::oneshot;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    DomException, Event, IdbCursorDirection, IdbCursorWithValue, IdbDatabase, IdbFactory, IdbIndex,
    IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbVersionChangeEvent,
};

/// Why IndexedDB refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The origin's storage quota is used up: the transaction was aborted whole.
    #[error("the browser's storage is full")]
    QuotaExceeded,
    /// The database was made by a newer version of this app (its version is higher).
    #[error("the database was written by a newer version of prompt-runs (database version {0})")]
    Newer(u32),
    /// IndexedDB cannot be used (disabled, private mode, the database was
    /// closed or deleted, …): the message says what the browser reported.
    #[error("IndexedDB is unavailable ({0})")]
    Unavailable(String),
}

fn classify(error: Option<DomException>) -> DbError {
    match error {
        Some(exception) if exception.name() == "QuotaExceededError" => DbError::QuotaExceeded,
        Some(exception) => {
            DbError::Unavailable(format!("{}: {}", exception.name(), exception.message()))
        }
        None => DbError::Unavailable("the transaction was aborted".to_owned()),
    }
}

/// What a call that threw means.
pub(crate) fn thrown(error: JsValue) -> DbError {
    match error.dyn_into::<DomException>() {
        Ok(exception) => classify(Some(exception)),
        Err(other) => DbError::Unavailable(describe(&other)),
    }
}

type Sender<T> = Rc<RefCell<Option<oneshot::Sender<T>>>>;

/// A channel for one value, its sending end shared by event handlers.
fn channel<T>() -> (Sender<T>, oneshot::Receiver<T>) {
    let (sender, receiver) = oneshot::channel();
    (Rc::new(RefCell::new(Some(sender))), receiver)
}

fn deliver<T>(sender: &Sender<T>, value: T) {
    if let Some(sender) = sender.borrow_mut().take() {
        let _ = sender.send(value);
    }
}

/// A result that event handlers deliver once. The handlers are unset when it
/// is dropped, delivered or not: a handler must never outlive its closure.
struct Pending<T> {
    receiver: oneshot::Receiver<T>,
    _handlers: Vec<Closure<dyn FnMut(Event)>>,
    unset: Box<dyn Fn()>,
}

impl<T> Pending<T> {
    async fn wait(mut self) -> Option<T> {
        (&mut self.receiver).await.ok()
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        (self.unset)();
    }
}

fn handler(f: impl FnMut(Event) + 'static) -> Closure<dyn FnMut(Event)> {
    Closure::new(f)
}

fn as_function(closure: &Closure<dyn FnMut(Event)>) -> Option<&js_sys::Function> {
    Some(closure.as_ref().unchecked_ref())
}

const DROPPED: &str = "the browser dropped the request";

/// The result of `request`, once it succeeds or fails.
pub(crate) async fn request(request: &IdbRequest) -> Result<JsValue, DbError> {
    let (sender, receiver) = channel();
    let on_success = {
        let (sender, request) = (sender.clone(), request.clone());
        handler(move |_| deliver(&sender, request.result().map_err(thrown)))
    };
    settle(request, sender, receiver, on_success).await
}

/// What `request`'s events deliver through `sender`: whatever `on_success`
/// delivers (at once, or after more events, as a cursor does), or the
/// request's error. Both handlers are unset once it is settled or dropped.
async fn settle<T: 'static>(
    request: &IdbRequest,
    sender: Sender<Result<T, DbError>>,
    receiver: oneshot::Receiver<Result<T, DbError>>,
    on_success: Closure<dyn FnMut(Event)>,
) -> Result<T, DbError> {
    let on_error = {
        let request = request.clone();
        handler(move |_| deliver(&sender, Err(classify(request.error().ok().flatten()))))
    };
    request.set_onsuccess(as_function(&on_success));
    request.set_onerror(as_function(&on_error));
    let unset = request.clone();
    let pending = Pending {
        receiver,
        _handlers: vec![on_success, on_error],
        unset: Box::new(move || {
            unset.set_onsuccess(None);
            unset.set_onerror(None);
        }),
    };
    pending
        .wait()
        .await
        .unwrap_or_else(|| Err(DbError::Unavailable(DROPPED.to_owned())))
}

/// How durably a read-write transaction commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// The browser's default: fast; a crash of the whole machine may lose
    /// the last writes (never a half-written transaction).
    Default,
    /// Committed only once on disk: for migrations, whose source is deleted after.
    Strict,
}

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, for its `transaction(stores, mode, {durability})`:
    /// web-sys has that only behind its unstable-API cfg.
    #[wasm_bindgen(js_name = IDBDatabase)]
    type DatabaseWithOptions;

    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &DatabaseWithOptions,
        stores: &js_sys::Array,
        mode: &str,
        options: &js_sys::Object,
    ) -> Result<IdbTransaction, JsValue>;
}

/// A transaction and the future of its end.
pub(crate) struct Transaction {
    transaction: IdbTransaction,
    done: Pending<Result<(), DbError>>,
}

impl Transaction {
    /// A read-only transaction over `stores`.
    pub(crate) fn read(db: &IdbDatabase, stores: &[&str]) -> Result<Transaction, DbError> {
        Transaction::open(db, stores, "readonly", Durability::Default)
    }

    /// A read-write transaction over `stores`.
    pub(crate) fn write(
        db: &IdbDatabase,
        stores: &[&str],
        durability: Durability,
    ) -> Result<Transaction, DbError> {
        Transaction::open(db, stores, "readwrite", durability)
    }

    fn open(
        db: &IdbDatabase,
        stores: &[&str],
        mode: &str,
        durability: Durability,
    ) -> Result<Transaction, DbError> {
        let names: js_sys::Array = stores.iter().map(|name| JsValue::from_str(name)).collect();
        let options = js_sys::Object::new();
        if durability == Durability::Strict {
            let _ = js_sys::Reflect::set(&options, &"durability".into(), &"strict".into());
        }
        let transaction = db
            .unchecked_ref::<DatabaseWithOptions>()
            .transaction_with_options(&names, mode, &options)
            .map_err(thrown)?;
        let (sender, receiver) = channel();
        let on_complete = {
            let sender = sender.clone();
            handler(move |_| deliver(&sender, Ok(())))
        };
        let on_abort = {
            let (sender, transaction) = (sender.clone(), transaction.clone());
            handler(move |_| deliver(&sender, Err(classify(transaction.error()))))
        };
        transaction.set_oncomplete(as_function(&on_complete));
        transaction.set_onabort(as_function(&on_abort));
        let unset = transaction.clone();
        Ok(Transaction {
            transaction,
            done: Pending {
                receiver,
                _handlers: vec![on_complete, on_abort],
                unset: Box::new(move || {
                    unset.set_oncomplete(None);
                    unset.set_onabort(None);
                }),
            },
        })
    }

    /// The object store `name` of this transaction.
    pub(crate) fn store(&self, name: &str) -> Result<IdbObjectStore, DbError> {
        self.transaction.object_store(name).map_err(thrown)
    }

    /// Commits (without waiting for the browser to notice no request is
    /// left) and waits until it is done: `Ok` once durable as asked, or why
    /// it was aborted, in which case nothing it wrote was kept.
    pub(crate) async fn commit(self) -> Result<(), DbError> {
        // `commit()` may throw when the transaction already finished: its end
        // is then reported by the events awaited below. (web-sys marks it
        // deprecated, but every current browser has it.)
        #[allow(deprecated)]
        let _ = self.transaction.commit();
        self.finish().await
    }

    /// Waits for the transaction to end (read-only ones end by themselves).
    pub(crate) async fn finish(self) -> Result<(), DbError> {
        self.done
            .wait()
            .await
            .unwrap_or_else(|| Err(DbError::Unavailable(DROPPED.to_owned())))
    }

    /// Aborts: nothing written in this transaction is kept.
    pub(crate) fn abort(&self) {
        let _ = self.transaction.abort();
    }
}

/// An open database.
pub(crate) struct Opened {
    /// The connection.
    pub(crate) db: IdbDatabase,
    /// The database did not exist before this open created it.
    pub(crate) created: bool,
}

/// Opens database `name` at `version` with `factory`, calling `upgrade` with
/// the previous version (0 when it is created) when it is older. A database
/// at a higher version is left untouched: [`DbError::Newer`].
pub(crate) async fn open(
    factory: &IdbFactory,
    name: &str,
    version: u32,
    upgrade: impl Fn(&IdbDatabase, u32) -> Result<(), JsValue> + 'static,
) -> Result<Opened, DbError> {
    let opening: IdbOpenDbRequest = factory.open_with_u32(name, version).map_err(thrown)?;
    let created = Rc::new(RefCell::new(false));
    let on_upgrade = {
        let (opening, created) = (opening.clone(), created.clone());
        handler(move |event| {
            let old = event
                .dyn_ref::<IdbVersionChangeEvent>()
                .map_or(0.0, IdbVersionChangeEvent::old_version);
            *created.borrow_mut() = old == 0.0;
            let upgraded = opening
                .result()
                .and_then(|db| upgrade(db.unchecked_ref(), old as u32));
            if upgraded.is_err() {
                if let Some(transaction) = opening.transaction() {
                    let _ = transaction.abort();
                }
            }
        })
    };
    opening.set_onupgradeneeded(as_function(&on_upgrade));
    // Unset when this future ends or is dropped, whichever comes first.
    let upgrade_handler = Pending::<()> {
        receiver: oneshot::channel().1,
        _handlers: vec![on_upgrade],
        unset: {
            let opening = opening.clone();
            Box::new(move || opening.set_onupgradeneeded(None))
        },
    };
    let result = request(&opening).await;
    drop(upgrade_handler);
    match result {
        Ok(db) => {
            let created = *created.borrow();
            Ok(Opened {
                db: db.unchecked_into(),
                created,
            })
        }
        Err(DbError::Unavailable(reason)) if reason.starts_with("VersionError") => Err(
            DbError::Newer(current_version(factory, name).await.unwrap_or(0)),
        ),
        Err(error) => Err(error),
    }
}

/// The version of database `name` as it is, without upgrading it.
async fn current_version(factory: &IdbFactory, name: &str) -> Option<u32> {
    let opening = factory.open(name).ok()?;
    let db: IdbDatabase = request(&opening).await.ok()?.unchecked_into();
    let version = db.version() as u32;
    db.close();
    Some(version)
}

/// Up to `limit` values of `index` within `range`, in `direction`, read with
/// one cursor (one event per value, no future per value).
pub(crate) async fn collect(
    index: &IdbIndex,
    range: Option<&IdbKeyRange>,
    direction: IdbCursorDirection,
    limit: usize,
) -> Result<Vec<JsValue>, DbError> {
    let everything = JsValue::UNDEFINED;
    let range: &JsValue = range.map_or(&everything, |range| range.as_ref());
    let cursor_request = index
        .open_cursor_with_range_and_direction(range, direction)
        .map_err(thrown)?;
    let (sender, receiver) = channel();
    let values = Rc::new(RefCell::new(Vec::new()));
    let on_success = {
        let (sender, cursor_request, values) =
            (sender.clone(), cursor_request.clone(), values.clone());
        handler(move |_| {
            let cursor = cursor_request
                .result()
                .ok()
                .and_then(|result| result.dyn_into::<IdbCursorWithValue>().ok());
            let Some(cursor) = cursor else {
                deliver(&sender, Ok(values.take()));
                return;
            };
            let full = {
                let mut values = values.borrow_mut();
                if let Ok(value) = cursor.value() {
                    values.push(value);
                }
                values.len() >= limit
            };
            if full {
                deliver(&sender, Ok(values.take()));
            } else if let Err(error) = cursor.continue_() {
                deliver(&sender, Err(thrown(error)));
            }
        })
    };
    settle(&cursor_request, sender, receiver, on_success).await
}

/// This page's IndexedDB, or why there is none.
pub(crate) fn factory() -> Result<IdbFactory, DbError> {
    let window = web_sys::window().ok_or_else(|| DbError::Unavailable("no window".to_owned()))?;
    match window.indexed_db() {
        Ok(Some(factory)) => Ok(factory),
        Ok(None) => Err(DbError::Unavailable(
            "this browser offers no IndexedDB here".to_owned(),
        )),
        Err(error) => Err(thrown(error)),
    }
}
