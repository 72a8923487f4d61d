/**
 * The browser client's page. No inline script or style anywhere (the page's CSP allows neither): behaviour is in
 * /app.js, looks in /app.css. Everything the script writes goes through textContent, never innerHTML.
 * The login form says method="post" so that, should the script not run, a submit can never put the password in
 * a URL (the server refuses the form body with 415).
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>koa-sentinel</title>
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app.css">
  <script type="module" src="/app.js"></script>
</head>
<body>
  <header class="bar">
    <h1><img src="/favicon.svg" alt="" width="24" height="24"> koa-sentinel</h1>
    <p id="who" class="who">Checking your session…</p>
  </header>

  <main>
    <p id="notice" class="notice" role="status" aria-live="polite" hidden></p>

    <section id="login-card" class="card" aria-labelledby="login-title" hidden>
      <h2 id="login-title">Sign in</h2>
      <form id="login-form" method="post" autocomplete="on">
        <label>Username <input id="username" name="username" autocomplete="username" required maxlength="64" autocapitalize="none" spellcheck="false"></label>
        <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">Cookies: <code>__Host-sentinel_at</code> (HttpOnly), <code>__Secure-sentinel_rt</code> (HttpOnly, sent to /auth/refresh only), <code>__Host-sentinel_csrf</code> (read by this page).</p>
    </section>

    <section id="session-card" class="card" aria-labelledby="session-title" hidden>
      <h2 id="session-title">Session</h2>
      <dl class="facts">
        <dt>User</dt><dd id="user-name"></dd>
        <dt>Roles</dt><dd id="user-roles" class="roles"></dd>
        <dt>Access token expires</dt><dd><time id="access-expires"></time></dd>
        <dt>Session expires</dt><dd><time id="session-expires"></time></dd>
        <dt>CSRF token</dt><dd><code id="csrf-token"></code></dd>
      </dl>
      <div class="actions">
        <button id="refresh-button" type="button">Refresh session</button>
        <button id="logout-button" type="button" class="secondary">Sign out</button>
      </div>
    </section>

    <section class="card" aria-labelledby="api-title">
      <h2 id="api-title">Protected resource</h2>
      <p class="hint"><code>GET /api/hello</code> answers any signed-in user, and 401 otherwise.</p>
      <div class="actions"><button id="hello-button" type="button">Call GET /api/hello</button></div>
      <pre id="hello-result" class="result" hidden></pre>
    </section>

    <section id="notes-card" class="card" aria-labelledby="notes-title" hidden>
      <h2 id="notes-title">Post a note</h2>
      <p class="hint"><code>POST /api/notes</code> is an unsafe request: the page sends the CSRF token in <code>X-CSRF-Token</code>.</p>
      <form id="note-form" method="post">
        <label>Note <input id="note-text" name="text" maxlength="1000" required></label>
        <button type="submit">Post note</button>
      </form>
      <pre id="note-result" class="result" hidden></pre>
    </section>

    <section id="history-card" class="card" aria-labelledby="history-title" hidden>
      <h2 id="history-title">Your login history</h2>
      <div class="actions"><button id="history-button" type="button">Load login history</button></div>
      <p id="history-message" class="hint" hidden></p>
      <table id="history-table" hidden>
        <thead><tr><th scope="col">Time</th><th scope="col">Outcome</th><th scope="col">Source IP</th><th scope="col">User agent</th></tr></thead>
        <tbody id="history-rows"></tbody>
      </table>
    </section>

    <section class="card" aria-labelledby="activity-title">
      <h2 id="activity-title">Requests</h2>
      <ol id="activity" class="activity" reversed></ol>
    </section>
  </main>
</body>
</html>
`;
