// The app's service worker: copied to the root of dist/ by Trunk (from
// index.html) and registered by register-service-worker.js on both pages.
// It keeps the app shell, both pages' HTML and the hashed .js, .wasm and
// .css files Trunk emits, so that the app opens with its whole local
// history (IndexedDB) while its server is stopped or cannot be reached.
// The API is never touched: what needs the server fails as it always did,
// and the app says so (docs/app-shell.md).
//
// - Pages (navigations): network first, so a new build is seen as soon as
//   it is served; the kept copy only when the server does not answer (or
//   answers 5xx).
// - Hashed files: cache first. Their names change with their content, so a
//   kept one is never stale.
// - A page is kept only once every hashed file it names is kept: a kept
//   page is never paired with files it does not name (a new build's HTML
//   with an old wasm, or the reverse), even offline.
// - After a page is kept, files that no kept page names (the previous
//   build's) are deleted; when a new version of this worker activates, the
//   caches of older versions are.
const version = 1;
const pages = `prompt-runs-pages-v${version}`;
const files = `prompt-runs-files-v${version}`;
const shell = ['/', '/experiments/'];
// Trunk's hashed names: `<name>-<seahash in hex>.<ext>`, `_bg` before the
// wasm's extension.
const hashed = /-[0-9a-f]{8,16}(?:_bg)?\.(?:js|wasm|css)$/;

// The page a navigation shows: the gateway answers every other path with
// the playground.
const pageOf = (url) => (url.pathname.startsWith('/experiments') ? '/experiments/' : '/');

const isPage = (response) =>
  response.ok &&
  !response.redirected &&
  (response.headers.get('content-type') || '').includes('text/html');

// The hashed files a page names (in its links and its inline module script).
const named = (html) =>
  [...html.matchAll(/["'=(\s](\/[^"'\s>)]*)(?=["'\s>)])/g)]
    .map((match) => match[1])
    .filter((path) => hashed.test(path))
    .map((path) => new URL(path, location.origin).href);

// Keeping pages and pruning files one at a time: a prune running between
// another page's files and its HTML would delete the files it is about to
// name.
let chain = Promise.resolve();
const serially = (task) => {
  const run = chain.then(task);
  chain = run.catch(() => {});
  return run;
};

// Files no kept page names are of an older build.
const prune = async () => {
  const kept = await caches.open(pages);
  const wanted = new Set();
  for (const request of await kept.keys()) {
    const page = await kept.match(request);
    for (const url of named(await page.text())) wanted.add(url);
  }
  const cache = await caches.open(files);
  for (const request of await cache.keys()) {
    if (!wanted.has(request.url)) await cache.delete(request);
  }
};

// Keeps `response` (a fresh copy of page `path`) once every file it names
// is kept; a file that cannot be fetched leaves the previous copy in place.
const keep = (path, response) =>
  serially(async () => {
    const cache = await caches.open(files);
    for (const url of named(await response.clone().text())) {
      if (await cache.match(url)) continue;
      const file = await fetch(url);
      if (!file.ok) throw new Error(`${url}: HTTP ${file.status}`);
      await cache.put(url, file);
    }
    await (await caches.open(pages)).put(path, response);
    await prune();
  });

const keptPage = async (path) => (await caches.open(pages)).match(path);

const navigation = async (event, url) => {
  const path = pageOf(url);
  try {
    const response = (await event.preloadResponse) || (await fetch(event.request));
    if (response.status >= 500) return (await keptPage(path)) || response;
    if (isPage(response)) event.waitUntil(keep(path, response.clone()).catch(() => {}));
    return response;
  } catch (unreachable) {
    const kept = await keptPage(path);
    if (kept) return kept;
    throw unreachable;
  }
};

const hashedFile = async (event) => {
  const cache = await caches.open(files);
  const kept = await cache.match(event.request.url);
  if (kept) return kept;
  const response = await fetch(event.request);
  if (response.ok) event.waitUntil(cache.put(event.request.url, response.clone()));
  return response;
};

addEventListener('install', (event) => {
  // Both pages at once, so that the Experiments page opens offline too even
  // if it was never visited; a page the server does not give now is kept at
  // its next visit.
  const both = shell.map((path) =>
    fetch(path, { cache: 'no-cache' })
      .then((response) => (isPage(response) ? keep(path, response) : null))
      .catch(() => null),
  );
  event.waitUntil(Promise.all(both).then(() => skipWaiting()));
});

addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('prompt-runs-') && name !== pages && name !== files) {
          await caches.delete(name);
        }
      }
      // The page's request starts while this worker starts up.
      if (registration.navigationPreload) await registration.navigationPreload.enable();
    })(),
  );
});

addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/api/')) {
    return;
  }
  if (request.mode === 'navigate') {
    event.respondWith(navigation(event, url));
  } else if (hashed.test(url.pathname)) {
    event.respondWith(hashedFile(event));
  }
});
