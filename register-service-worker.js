// Inlined into both pages by Trunk: registers service-worker.js, which
// keeps the app shell so that the app opens while its server cannot be
// reached (docs/app-shell.md). Once the page has loaded, so that the
// worker's first download of both pages does not slow the app's start.
// Where service workers are unavailable (not a secure context, an
// embedding), the app works as before, online only.
if ('serviceWorker' in navigator) {
  addEventListener('load', () => {
    navigator.serviceWorker.register('/service-worker.js').catch((error) => {
      console.warn('prompt-runs: the app will not open offline:', error);
    });
  });
}
