// Classic script loaded before a page's module: any load or evaluation failure of the
// module graph (a 404, a wrong MIME type, a wasm that fails to instantiate under top-level
// await) lands in `document.body.dataset.error`, so the test fails at once with the reason
// instead of waiting for a result that never comes.
(function () {
  function report(what) {
    if (!document.body.dataset.error) document.body.dataset.error = String(what);
  }
  window.addEventListener("error", function (ev) {
    var t = ev.target;
    if (t && t !== window && t.tagName === "SCRIPT") report("failed to load script " + (t.src || "(inline module)"));
    else report((ev.error && ev.error.stack) || ev.message);
  }, true);
  window.addEventListener("unhandledrejection", function (ev) {
    report("unhandled rejection: " + ((ev.reason && ev.reason.stack) || ev.reason));
  });
})();
