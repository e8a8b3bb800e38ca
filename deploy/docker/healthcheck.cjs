// Docker HEALTHCHECK: GET /healthz on the app's HTTP port (liveness only; readiness is for orchestrators).
'use strict';
const port = process.env.HTTP_PORT || '8080';
const controller = new AbortController();
const timer = setTimeout(() => controller.abort(), 4000);
fetch(`http://127.0.0.1:${port}/healthz`, { signal: controller.signal })
  .then((res) => {
    clearTimeout(timer);
    process.exitCode = res.ok ? 0 : 1;
  })
  .catch(() => {
    clearTimeout(timer);
    process.exitCode = 1;
  });
