//! End-to-end test of the whole app; see `tests/app.rs`. The library is empty:
//! this package exists to hold a test with heavy dependencies (a WebDriver
//! client) that the app and the gateway should not compile.
