/*
 * The page's script, served as /app.js (a module: deferred and strict). Plain modern JavaScript for evergreen
 * browsers, no build step, no dependencies. Served as it is from the package's web/ folder.
 *
 * How it uses the session (README "Browser client"): the cookies travel by themselves (same origin); the CSRF
 * token goes in X-CSRF-Token on every unsafe request, taken from the last login, refresh or /auth/me answer, or
 * else from the readable __Host-sentinel_csrf cookie. Nothing the server sends is written as HTML.
 */
// koa-sentinel browser client
const CSRF_COOKIE = '__Host-sentinel_csrf';
// A failed auth route must not trigger the automatic refresh-and-retry below.
const NO_RETRY = new Set(['/auth/login', '/auth/refresh', '/auth/logout']);
const MAX_ACTIVITY = 50;

const $ = (id) => document.getElementById(id);
/** The token of the last login, refresh or /auth/me answer. */
let csrfToken = null;

function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

const currentCsrfToken = () => csrfToken || readCookie(CSRF_COOKIE);

/** fetch, JSON in and out, the CSRF header on unsafe methods, one refresh-and-retry on token_expired. */
async function request(method, path, body, retried = false) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = method === 'GET' || method === 'HEAD' ? null : currentCsrfToken();
  if (token) headers['x-csrf-token'] = token;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    logActivity(method, path, 0, 'network error');
    return { status: 0, headers: new Headers(), data: { error: { code: 'network', message: 'The server could not be reached.' } } };
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  logActivity(method, path, response.status, token ? 'with X-CSRF-Token' : '');
  if (data && typeof data.csrfToken === 'string') csrfToken = data.csrfToken;
  if (response.status === 401 && errorCode(data) === 'token_expired' && !retried && !NO_RETRY.has(path)) {
    const refreshed = await request('POST', '/auth/refresh');
    if (refreshed.status === 200) {
      showSession(refreshed.data);
      return request(method, path, body, true);
    }
    showSignedOut();
  }
  return { status: response.status, headers: response.headers, data };
}

const errorCode = (data) => (data && data.error && typeof data.error.code === 'string' ? data.error.code : null);
const errorText = (result) => {
  const code = errorCode(result.data);
  const message = code ? result.data.error.message : 'Unexpected answer.';
  return result.status + (code ? ' ' + code : '') + ': ' + message;
};

function logActivity(method, path, status, extra) {
  const item = document.createElement('li');
  item.className = 's' + String(status).charAt(0);
  const time = new Date().toLocaleTimeString();
  item.textContent = time + '  ' + method + ' ' + path + ' → ' + (status || 'failed') + (extra ? '  (' + extra + ')' : '');
  const list = $('activity');
  list.prepend(item);
  while (list.children.length > MAX_ACTIVITY) list.lastElementChild.remove();
}

function notify(message, isError = false) {
  const notice = $('notice');
  notice.textContent = message;
  notice.classList.toggle('error', isError);
  notice.hidden = false;
}

function showResult(element, text, isError) {
  element.textContent = text;
  element.classList.toggle('error', isError);
  element.hidden = false;
}

function setTime(element, iso) {
  if (typeof iso !== 'string') {
    element.removeAttribute('datetime');
    element.textContent = '—';
    return;
  }
  element.dateTime = iso;
  element.textContent = new Date(iso).toLocaleString();
}

/** The CSRF token is no secret from this page, but a screen is no place for all of it. */
const shorten = (token) => (token ? token.slice(0, 10) + '…' : '—');

/** Login and refresh answer { user, csrfToken, accessExpiresAt, sessionExpiresAt }; /auth/me { user, session, csrfToken }. */
function showSession(data) {
  const { user } = data;
  $('user-name').textContent = user.name;
  const roles = $('user-roles');
  roles.replaceChildren(...user.roles.map((role) => {
    const badge = document.createElement('span');
    badge.textContent = role;
    return badge;
  }));
  setTime($('access-expires'), data.accessExpiresAt || (data.session && data.session.accessExpiresAt));
  if (data.sessionExpiresAt || !$('session-expires').dateTime) setTime($('session-expires'), data.sessionExpiresAt);
  $('csrf-token').textContent = shorten(currentCsrfToken());
  $('who').textContent = 'Signed in as ' + user.name;
  toggleSignedIn(true);
}

function showSignedOut() {
  csrfToken = null;
  $('who').textContent = 'Not signed in';
  for (const id of ['note-result', 'history-message', 'history-table', 'sessions-message', 'sessions-table']) $(id).hidden = true;
  $('history-rows').replaceChildren();
  $('sessions-rows').replaceChildren();
  closeReauth();
  setTime($('session-expires'), undefined);
  toggleSignedIn(false);
}

function toggleSignedIn(signedIn) {
  $('login-card').hidden = signedIn;
  for (const id of ['session-card', 'notes-card', 'history-card', 'sessions-card']) $(id).hidden = !signedIn;
}

/** Disables the button while its request runs, so a double click cannot send two refreshes. */
function busy(button, action) {
  return async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  };
}

const loginButton = $('login-form').querySelector('button');
$('login-form').addEventListener('submit', busy(loginButton, async () => {
  const password = $('password');
  const result = await request('POST', '/auth/login', { username: $('username').value, password: password.value });
  password.value = '';
  if (result.status === 200) {
    showSession(result.data);
    // Secure and __Host- cookies need a secure context: over plain http on any host but localhost or 127.0.0.1
    // the browser drops them without a word, and every later call would answer 401.
    if (readCookie(CSRF_COOKIE) === null) {
      notify('Signed in, but this browser refused the session cookies (they are Secure): open this page over HTTPS, or on localhost or 127.0.0.1.', true);
    } else {
      notify('Signed in as ' + result.data.user.name + '.');
    }
  } else if (result.status === 429) {
    notify(errorText(result) + ' Retry after ' + (result.headers.get('retry-after') || '?') + ' s.', true);
  } else {
    notify(errorText(result), true);
  }
}));

$('hello-button').addEventListener('click', busy($('hello-button'), async () => {
  const result = await request('GET', '/api/hello');
  if (result.status === 200) showResult($('hello-result'), '200 OK: ' + result.data.message, false);
  else showResult($('hello-result'), errorText(result), true);
}));

const noteButton = $('note-form').querySelector('button');
$('note-form').addEventListener('submit', busy(noteButton, async () => {
  const token = currentCsrfToken();
  const result = await request('POST', '/api/notes', { text: $('note-text').value });
  if (result.status === 201) {
    const { note } = result.data;
    showResult($('note-result'), '201 Created: "' + note.text + '" by ' + note.author + '\nsent with X-CSRF-Token: ' + shorten(token), false);
    $('note-text').value = '';
  } else {
    showResult($('note-result'), errorText(result), true);
  }
}));

$('refresh-button').addEventListener('click', busy($('refresh-button'), async () => {
  const result = await request('POST', '/auth/refresh');
  if (result.status === 200) {
    showSession(result.data);
    notify('Session refreshed: the access token now expires at ' + new Date(result.data.accessExpiresAt).toLocaleTimeString() + '; the cookies and the CSRF token were rotated.');
  } else if (result.status === 409) {
    notify('Another tab refreshed this session a moment ago; the cookies are already fresh.', true);
  } else {
    showSignedOut();
    notify(errorText(result) + ' Please sign in again.', true);
  }
}));

$('logout-button').addEventListener('click', busy($('logout-button'), async () => {
  const result = await request('POST', '/auth/logout');
  showSignedOut();
  if (result.status === 204) notify('Signed out: the server revoked the session and cleared its cookies.');
  else notify(errorText(result), true);
}));

$('history-button').addEventListener('click', busy($('history-button'), async () => {
  const result = await request('GET', '/auth/login-history?size=20');
  const message = $('history-message');
  const table = $('history-table');
  if (result.status === 200) {
    const rows = result.data.logins.map((login) => {
      const row = document.createElement('tr');
      const cells = [new Date(login.time).toLocaleString(), login.outcome, login.sourceIp || '—', login.userAgent || '—'];
      for (const value of cells) {
        const cell = document.createElement('td');
        cell.textContent = value;
        row.append(cell);
      }
      row.children[1].className = login.outcome === 'success' ? 'success' : 'failure';
      return row;
    });
    $('history-rows').replaceChildren(...rows);
    table.hidden = rows.length === 0;
    message.textContent = rows.length === 0 ? 'No logins recorded yet.' : 'Your ' + rows.length + ' most recent logins, newest first.';
  } else if (result.status === 503) {
    table.hidden = true;
    message.textContent = 'Login history is unavailable right now (503 ' + (errorCode(result.data) || 'unavailable') + '): the server reads it from Elasticsearch, which is not configured or did not answer in time. Signing in and everything else still work.';
  } else {
    table.hidden = true;
    message.textContent = errorText(result);
  }
  message.hidden = false;
}));

/*
 * "Your sessions" (GET /auth/sessions, ASVS 7.5.2): every live session of the user, this one marked, an End button
 * for each other one, and "End all other sessions". Ending asks the server first without a password; when it
 * answers 403 reauthentication_required, the page asks for the password in its own field (never a prompt()
 * dialog) and sends the same request again with it. The password field is emptied after each try.
 */
/** The ending waiting for a password: { method, path, what }, or null. */
let pendingEnd = null;

function sessionsMessage(text, isError = false) {
  const message = $('sessions-message');
  message.textContent = text;
  message.classList.toggle('error', isError);
  message.hidden = false;
}

function timeCell(iso) {
  const cell = document.createElement('td');
  const time = document.createElement('time');
  setTime(time, iso);
  cell.append(time);
  return cell;
}

function textCell(value) {
  const cell = document.createElement('td');
  cell.textContent = value;
  return cell;
}

function sessionRow(session) {
  const row = document.createElement('tr');
  row.dataset.current = String(session.current === true);
  row.append(textCell(session.device || 'Unknown device'), textCell(session.sourceIp || '—'), timeCell(session.lastUsedAt), timeCell(session.createdAt));
  const action = document.createElement('td');
  if (session.current) {
    const badge = document.createElement('span');
    badge.className = 'this-device';
    badge.textContent = 'this device';
    action.append(badge);
  } else {
    const end = document.createElement('button');
    end.type = 'button';
    end.className = 'secondary end-session';
    end.textContent = 'End';
    end.setAttribute('aria-label', 'End the session of ' + (session.device || 'an unknown device') + ' at ' + (session.sourceIp || 'an unknown address'));
    end.addEventListener('click', busy(end, () => endSessions('DELETE', '/auth/sessions/' + encodeURIComponent(session.id), 'that session')));
    action.append(end);
  }
  row.append(action);
  return row;
}

/** Lists the sessions; `before` opens the message (what was just done). */
async function loadSessions(before = '') {
  const result = await request('GET', '/auth/sessions');
  const table = $('sessions-table');
  if (result.status !== 200) {
    table.hidden = true;
    sessionsMessage(errorText(result), true);
    return;
  }
  const { sessions } = result.data;
  $('sessions-rows').replaceChildren(...sessions.map(sessionRow));
  table.hidden = sessions.length === 0;
  const others = sessions.filter((session) => !session.current).length;
  sessionsMessage(before + (others === 0 ? 'Only this device is signed in.' : 'Signed in on ' + sessions.length + ' devices: this one and ' + others + ' other' + (others === 1 ? '' : 's') + '.'));
}

function openReauth(pending, text) {
  pendingEnd = pending;
  $('reauth-message').textContent = text;
  $('reauth-form').hidden = false;
  $('reauth-password').value = '';
  $('reauth-password').focus();
}

function closeReauth() {
  pendingEnd = null;
  $('reauth-password').value = '';
  $('reauth-form').hidden = true;
}

/** Sends the ending; asks for the password on 403 reauthentication_required, then lists the sessions again. */
async function endSessions(method, path, what, password) {
  const result = await request(method, path, password === undefined ? {} : { password });
  if (result.status === 403 && errorCode(result.data) === 'reauthentication_required') {
    const text = password === undefined
      ? 'To end ' + what + ', confirm your password.'
      : result.data.error.message + ' Try again to end ' + what + '.';
    openReauth({ method, path, what }, text);
    return;
  }
  closeReauth();
  if (result.status === 200) {
    const ended = result.data.endedSessions;
    await loadSessions(ended === 0 ? 'Nothing to end: ' + what + ' had ended already. ' : 'Ended ' + ended + ' session' + (ended === 1 ? '' : 's') + '. ');
  } else if (result.status === 401) {
    // Too many wrong passwords end the asking session itself.
    showSignedOut();
    notify(errorText(result) + ' Please sign in again.', true);
  } else {
    sessionsMessage(errorText(result), true);
  }
}

$('sessions-button').addEventListener('click', busy($('sessions-button'), () => loadSessions()));

$('end-others-button').addEventListener('click', busy($('end-others-button'), () => endSessions('DELETE', '/auth/sessions', 'every other session')));

const reauthButton = $('reauth-form').querySelector('button[type=submit]');
$('reauth-form').addEventListener('submit', busy(reauthButton, async () => {
  if (!pendingEnd) return;
  const { method, path, what } = pendingEnd;
  const password = $('reauth-password').value;
  $('reauth-password').value = '';
  await endSessions(method, path, what, password);
}));

$('reauth-cancel').addEventListener('click', closeReauth);

// A reload keeps the session: /auth/me says who is signed in and hands over a CSRF token for this session.
const me = await request('GET', '/auth/me');
if (me.status === 200) showSession(me.data);
else showSignedOut();
