/** The page's only styles, served as /app.css (style-src 'self': no inline style, no style attributes). */
export const APP_CSS = `:root {
  color-scheme: light;
  --fg: #1c2128; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --card: #fff;
  --accent: #1f6feb; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
.bar { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: .75rem 1.5rem;
  background: #24292f; color: #fff; }
.bar h1 { display: flex; align-items: center; gap: .5rem; margin: 0; font-size: 1.15rem; }
.who { margin: 0; font-size: .9rem; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; max-width: 72rem;
  margin: 1.25rem auto; padding: 0 1.5rem; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; }
.card h2 { margin: 0 0 .75rem; font-size: 1.05rem; }
#history-card, #session-card { grid-column: span 2; }
@media (max-width: 48rem) { #history-card, #session-card { grid-column: auto; } }
.notice { grid-column: 1 / -1; margin: 0; padding: .6rem 1rem; border-radius: 6px; border: 1px solid var(--line);
  background: #ddf4ff; }
.notice.error { background: #ffebe9; border-color: #ff8182; }
form { display: grid; gap: .6rem; }
label { display: grid; gap: .2rem; font-weight: 600; font-size: .9rem; }
input { font: inherit; padding: .4rem .55rem; border: 1px solid var(--line); border-radius: 6px; }
input:focus-visible, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
button { font: inherit; font-weight: 600; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; cursor: pointer; justify-self: start; }
button.secondary { background: #fff; color: var(--bad); border-color: var(--bad); }
button:disabled { opacity: .6; cursor: progress; }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; }
.hint { color: var(--muted); font-size: .85rem; }
code, pre { font: .85rem/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 .9rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.roles span { display: inline-block; margin-right: .3rem; padding: 0 .5rem; border-radius: 1rem;
  background: #ddf4ff; color: #0550ae; font-size: .85rem; }
.result { margin: .75rem 0 0; padding: .6rem .75rem; background: var(--bg); border-radius: 6px;
  border-left: 4px solid var(--ok); white-space: pre-wrap; overflow-wrap: anywhere; }
.result.error { border-left-color: var(--bad); }
table { width: 100%; border-collapse: collapse; font-size: .85rem; margin-top: .75rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.success { color: var(--ok); } td.failure { color: var(--bad); }
.activity { margin: 0; padding-left: 1.5rem; max-height: 16rem; overflow: auto;
  font: .8rem/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.activity .s2 { color: var(--ok); } .activity .s4 { color: var(--bad); } .activity .s5 { color: var(--warn); }
`;
