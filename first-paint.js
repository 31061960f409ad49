// The first paint, inlined at the top of the pages' <body> by Trunk, after
// history-head-start.js: the playground as this browser last showed it,
// painted while the page is still being parsed, before the app's wasm has
// downloaded, compiled and run (most of a start; docs/benchmarks.md,
// "Start-up, first paint and memory").
//
// Kept (only by the playground, once app.rs calls `shown()`): when the page
// is at rest (list scrolled to its top, no filter hiding runs, nothing
// running or waiting to be confirmed) a copy of what is on screen (elements,
// allowed attributes and text; no script, nothing loaded) goes to
// localStorage with a fingerprint of what it shows from the database: the
// manifest (counts, totals, the active run) and the records of the rows on
// screen.
//
// Never stale: every save, in any tab on either page, is announced on the
// history's BroadcastChannel, and the copy is dropped at once (kept again
// once at rest); a page left while not at rest, or with its rows changed
// since (a change not saved yet), drops it too. The head
// start's read then checks the fingerprint against the database itself;
// a copy that does not match (a tab that crashed mid-save) is taken down
// and forgotten. The copy is inert and hidden from assistive technology,
// laid over the app, which stays invisible under it until its own first
// screen is in (`shown()`), and removed in that same frame.
(() => {
  const head = window.__promptRunsHeadStart;
  if (!head || !window.localStorage) return;
  const { database, open, read } = head;
  const key = `${database}.first-paint`;
  const format = 1;
  const root = 'first-paint';
  const settle = 250;

  // Parts of the page never kept: notices of the moment, and the model
  // checkboxes, which the app draws only once the server has answered.
  const dropped = '[role=alert], [role=status]';
  const emptied = '.composer__models';
  // The active run's view, kept only when that run is a row on screen (its
  // record is then in the fingerprint).
  const viewer = '.app__viewer';
  // The history's scrolling list and its rows; what makes a page not at rest.
  const list = '.history__viewport';
  const row = '.history__row';
  const busy = '.history__filtered, .history__confirm, .badge--pending, .badge--running';
  // What a kept page may contain: the elements the app draws, none that
  // runs script or loads anything, and attributes that only style or label.
  const tags = new Set(
    ('a abbr article aside b br button code dd details div dl dt em fieldset footer h1 h2 h3 h4 ' +
      'header hr i input label legend li main meter nav ol optgroup option output p pre progress ' +
      'section select small span strong sub summary sup table tbody td textarea tfoot th thead ' +
      'time tr ul').split(' '),
  );
  const attributes =
    /^(class|style|role|type|datetime|disabled|hidden|checked|selected|value|placeholder|min|max|step|rows|title|colspan|rowspan|aria-[a-z]+|data-[a-z-]+)$/;
  // A style may not fetch anything either (`url()`, `image-set()`).
  const allowed = (name, value) =>
    (attributes.test(name) && !(name === 'style' && /url\(|image-set/i.test(value))) ||
    (name === 'href' && /^\/(?!\/)/.test(value));

  // cyrb53: a fast 53-bit string hash, enough to tell one stored state from another.
  const hash = (text) => {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  };
  const fingerprint = ({ manifest, records }, rows) =>
    hash(JSON.stringify([manifest ?? null, records.slice(0, rows).map((r) => [r.id, r.run])]));

  const forget = () => {
    try {
      localStorage.removeItem(key);
    } catch (_) {}
  };
  const stored = () => {
    try {
      const copy = JSON.parse(localStorage.getItem(key));
      return copy && copy.format === format && Array.isArray(copy.tree) ? copy : null;
    } catch (_) {
      return null;
    }
  };
  // Only what is on screen is kept (in the window, and in the history's
  // scrolling list): nothing else is seen before the app has taken over, and
  // drawing it would hold up the app's own start.
  const onScreen = (element) => {
    const within = element.closest(list);
    const bottom = Math.min(innerHeight, within ? within.getBoundingClientRect().bottom : Infinity);
    return element.getBoundingClientRect().top < bottom;
  };
  const rowElements = () => [...document.querySelectorAll(row)];
  const drawnIds = () => rowElements().map((element) => element.dataset.runId);
  const rowIds = () => rowElements().filter(onScreen).map((element) => element.dataset.runId);
  const atRest = () => {
    const scrolling = document.querySelector(list);
    return scrolling !== null && scrolling.scrollTop === 0 && document.querySelector(busy) === null;
  };

  // The page as a tree: [tag, {attributes}, ...children], text as strings.
  const copy = (node, keepViewer) => {
    if (node.nodeType === Node.TEXT_NODE) return node.data;
    if (node.nodeType !== Node.ELEMENT_NODE || !tags.has(node.localName)) return null;
    if (node.id === root || node.matches(dropped) || !onScreen(node)) return null;
    const attrs = {};
    for (const { name, value } of node.attributes) {
      if (allowed(name, value)) attrs[name] = value;
    }
    const element = [node.localName, attrs];
    let children = [...node.childNodes];
    if (node.localName === 'details') {
      // Closed, as the app starts: what is inside is not drawn.
      children = children.filter((child) => child.localName === 'summary');
    } else if (node.matches(emptied)) {
      children = children.filter((child) => child.localName === 'legend');
    } else if (!keepViewer && node.matches(viewer)) {
      children = [];
    }
    for (const child of children) {
      const kept = copy(child, keepViewer);
      if (kept !== null) element.push(kept);
    }
    return element;
  };

  // The tree back as elements, checked again: the copy is read from
  // storage, so it is untrusted; text stays text.
  const build = (node) => {
    if (typeof node === 'string') return document.createTextNode(node);
    const [tag, attrs, ...children] = node;
    if (!tags.has(tag) || typeof attrs !== 'object' || attrs === null) throw new Error(`not kept: ${tag}`);
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (typeof value === 'string' && allowed(name, value)) element.setAttribute(name, value);
    }
    for (const child of children) element.append(build(child));
    return element;
  };

  let painted = null;
  let taken = false;
  const remove = () => {
    if (painted) painted.remove();
    document.documentElement.classList.remove('first-painting');
    painted = null;
  };

  const kept = stored();
  if (kept && kept.path === location.pathname && document.body) {
    try {
      const element = document.createElement('div');
      element.id = root;
      element.inert = true;
      element.setAttribute('aria-hidden', 'true');
      for (const child of kept.tree) element.append(build(child));
      painted = element;
      document.documentElement.classList.add('first-painting');
      document.body.prepend(element);
      // The app failed to start: its page, not a copy that cannot be used.
      addEventListener('error', remove, { once: true });
      addEventListener('unhandledrejection', remove, { once: true });
    } catch (_) {
      forget();
    }
    head.result.then((first) => {
      if (painted && (!first || fingerprint(first, kept.rows) !== kept.fingerprint)) {
        remove();
        forget();
        // For the developer tools' timeline (and the end-to-end test).
        performance.mark('prompt-runs:first-paint-dropped');
      }
    });
  }

  // Keeps the page as it is now, if it is at rest and shows what is stored.
  const keep = async () => {
    const db = await open();
    if (db === null) return;
    let first;
    try {
      first = await read(db);
    } catch (_) {
      return;
    } finally {
      db.close();
    }
    if (painted || !atRest()) return;
    // Every row drawn (on screen or not) is the stored run at its place.
    const drawn = drawnIds();
    const { records } = first;
    const same = drawn.length <= records.length && drawn.every((id, i) => id === records[i].id);
    if (!same || (drawn.length === 0 && records.length > 0)) return;
    const rows = rowIds();
    let active = null;
    try {
      active = JSON.parse(first.manifest ?? 'null')?.activeRunId ?? null;
    } catch (_) {}
    const keepViewer = active === null || rows.includes(active);
    const tree = [...document.body.children].map((child) => copy(child, keepViewer)).filter(Boolean);
    try {
      localStorage.setItem(
        key,
        JSON.stringify({
          format,
          path: location.pathname,
          rows: rows.length,
          ids: rows,
          fingerprint: fingerprint(first, rows.length),
          tree,
        }),
      );
    } catch (_) {
      // Full: the history needs the room more than a faster first paint.
      forget();
    }
  };

  let timer = 0;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(keep, settle);
  };

  try {
    new BroadcastChannel(`${database}:history`).onmessage = () => {
      forget();
      if (taken) soon();
    };
  } catch (_) {}
  // Leaving with changes that may not be saved (a run going, one not yet
  // announced, a row moved) drops the copy; the rows on screen may differ by
  // a line of layout (a notice come or gone), so the rows drawn are compared.
  addEventListener('pagehide', () => {
    if (!taken) return;
    const copy = stored();
    const drawn = drawnIds();
    if (copy && !(atRest() && copy.ids.every((id, i) => drawn[i] === id))) forget();
  });

  window.__promptRunsFirstPaint = {
    // The app's first screen is in: the app takes over, and from now on
    // the page is kept whenever it comes to rest.
    shown() {
      if (taken) return;
      taken = true;
      remove();
      soon();
    },
    keep,
  };
})();
