// The reporting half of the browser test pages (page.html, tasks.html), a
// classic script loaded first: any uncaught error ends the run with a readable
// reason in document.body.dataset.failed, and describeError() turns a rejection
// into what can cross back to the test.
window.addEventListener("error", (event) => {
  document.body.dataset.failed = `uncaught error: ${event.message}`;
});
window.addEventListener("unhandledrejection", (event) => {
  document.body.dataset.failed = `unhandled rejection: ${event.reason?.stack ?? event.reason}`;
});

/** A rejection as plain data; `InferenceError` is the package's class. */
window.describeError = (err, InferenceError) => ({
  name: err?.name,
  code: err?.code,
  status: err?.status,
  message: String(err?.message ?? err),
  failures: err?.failures,
  isInferenceError: err instanceof InferenceError,
  isError: err instanceof Error,
});
