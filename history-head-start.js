// The history's head start, inlined into index.html by Trunk: opens the
// history's IndexedDB database and reads what the first screen shows (the
// manifest and the newest runs, in one read-only transaction) while the
// app's wasm is still downloading and compiling, so the app mounts with
// the newest runs instead of opening the database only then. The app takes
// it over in src/persist/indexed/history/head_start.rs, which checks these
// constants against its own and decodes the records; this script only reads.
// A database that does not exist yet or needs an upgrade is left to the app
// (the upgrade is aborted here), as is any failure: `result` is then null.
// `open` and `read` are kept for first-paint.js, which reads the same again.
(() => {
  const database = 'prompt-runs';
  const version = 1;
  const newest = 20;

  // The database at this version, or null.
  const open = () =>
    new Promise((resolve) => {
      let settled = false;
      const give = (value) => {
        if (!settled) {
          settled = true;
          resolve(value);
        } else if (value) {
          value.close();
        }
      };
      let opening;
      try {
        opening = indexedDB.open(database, version);
      } catch (_) {
        return give(null);
      }
      opening.onupgradeneeded = () => opening.transaction.abort();
      opening.onerror = (event) => {
        event.preventDefault();
        give(null);
      };
      opening.onblocked = () => give(null);
      opening.onsuccess = () => {
        const db = opening.result;
        // Until the app takes the connection over, never hold up another
        // tab's upgrade or deletion of the database.
        db.onversionchange = () => db.close();
        give(db);
      };
    });

  // The manifest (its JSON text, or undefined) and the newest runs' records.
  const read = (db) =>
    new Promise((resolve, reject) => {
      const transaction = db.transaction(['runs', 'meta'], 'readonly');
      const manifest = transaction.objectStore('meta').get('manifest');
      const index = transaction.objectStore('runs').index('newest');
      let records = [];
      // Each answer waits for the page's main thread, busy compiling and
      // mounting the app meanwhile: one request where the browser has
      // getAllRecords (newest first), not one per run of a cursor.
      if (index.getAllRecords) {
        const all = index.getAllRecords({ direction: 'prev', count: newest });
        all.onsuccess = () => {
          records = all.result.map((record) => record.value);
        };
      } else {
        const cursor = index.openCursor(null, 'prev');
        cursor.onsuccess = () => {
          const at = cursor.result;
          if (at && records.length < newest) {
            records.push(at.value);
            if (records.length < newest) at.continue();
          }
        };
      }
      transaction.oncomplete = () => resolve({ manifest: manifest.result, records });
      transaction.onabort = () => reject(transaction.error);
    });

  const result = open().then((db) =>
    db === null
      ? null
      : read(db).then(
          (first) => ({ db, ...first }),
          () => {
            db.close();
            return null;
          },
        ),
  );
  window.__promptRunsHeadStart = { database, version, newest, result, open, read };
})();
