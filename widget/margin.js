/*! Margin widget · Apache-2.0 · docs/widget.md
 *  <script src="https://margin.example/widget.js" async data-token="…" data-record-type="deal" data-record-id="D-1001"></script>
 *  or Margin.mount({server, getToken, record: {type, id}}). */
(function () {
  "use strict";
  if (typeof window === "undefined" || window.Margin) return;

  //=== Utilities ==============================================================

  const script = document.currentScript; // our <script> tag, known only while this file first runs
  const noop = () => {};

  /** An error the panel can explain: `code` picks the message. */
  class MarginError extends Error {
    constructor(code, message, retryAfter, status) {
      super(message || code);
      Object.assign(this, { code, retryAfter: retryAfter || 0, status: status || 0 });
    }
  }

  /** Wrap a callback so nothing it throws or rejects ever reaches the host page. */
  const guard = (fn) =>
    function (...args) {
      try {
        const r = fn.apply(this, args);
        return r && r.then ? r.catch(report) : r;
      } catch (e) {
        report(e);
      }
    };

  /**
   * Build an element. Props: `class`, `on<event>` (a guarded listener); other keys are attributes
   * (true → "", null/false → left out). Kids are nodes or strings, which become text nodes.
   */
  function h(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), guard(v));
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) node.append(kid);
    return node;
  }
  const button = (label, onclick, cls = "btn", props) => h("button", { type: "button", class: cls, onclick, ...props }, label);

  /** An SVG icon from one path, hidden from assistive technology. */
  function icon(d) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    const path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }
  const CHAT = "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM7 9h10v2H7zm0-3h10v2H7zm0 6h7v2H7z";
  const CROSS = "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6z";
  const THUMB = "M1 21h4V9H1zm22-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5-1.1L14.2 1 7.6 7.6C7.2 8 7 8.4 7 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1.2-.7z";

  /** Dispatch `margin:<name>` on window; false when a listener cancelled it. */
  function emit(name, detail, cancelable = false) {
    try {
      return window.dispatchEvent(new CustomEvent("margin:" + name, { detail, cancelable }));
    } catch (e) {
      return true;
    }
  }

  //=== Markdown: the safe subset, built from elements and text nodes, never HTML =====

  /** Only http, https and mailto links survive; javascript:, data: and relative URLs stay text. */
  function safeUrl(url) {
    try {
      const u = new URL(url);
      return /^(https?|mailto):$/.test(u.protocol) && u.href;
    } catch (e) {
      return "";
    }
  }

  // groups: 2 `code`, 3|4 **bold**, 5 *em*, 6 the char before _em_ 7, 8 [text] 9 (url)
  const INLINE = /(`+)(.+?)\1|\*\*(.+?)\*\*|__(.+?)__|\*(?!\s)(.+?)\*|(^|\W)_(?!\s)(.+?)_(?!\w)|\[([^\]]+)\]\(\s*(\S+?)\s*\)/g;

  function inline(parent, text) {
    let at = 0;
    for (const m of text.matchAll(INLINE)) {
      const url = m[9] && safeUrl(m[9]);
      parent.append(text.slice(at, m.index) + (m[6] || ""));
      at = m.index + m[0].length;
      if (m[2]) parent.append(h("code", null, m[2]));
      else if (m[3] || m[4]) inline(parent.appendChild(h("strong")), m[3] || m[4]);
      else if (m[5] || m[7]) inline(parent.appendChild(h("em")), m[5] || m[7]);
      else if (url) inline(parent.appendChild(h("a", { href: url, target: "_blank", rel: "noopener noreferrer" })), m[8]);
      else parent.append(m[0]);
    }
    parent.append(text.slice(at));
    return parent;
  }

  /** Paragraphs (single newlines kept), headings, bullet and numbered lists, ``` code blocks. */
  function markdown(root, src) {
    let list = null, para = null, code = null, m;
    root.textContent = "";
    for (const line of src.split("\n")) {
      const fence = /^\s*```/.test(line);
      if (code) {
        if (fence) code = null;
        else code.append(code.firstChild ? "\n" + line : line);
        continue;
      }
      if (fence || !line.trim() || /^ {0,3}#/.test(line)) list = para = null;
      if (fence) root.append(h("pre", null, (code = h("code"))));
      else if ((m = /^ {0,3}#{1,6}\s+(.*)/.exec(line))) root.append(inline(h("h4"), m[1]));
      else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)/.exec(line))) {
        const tag = /\d/.test(m[1]) ? "OL" : "UL";
        if (!list || list.tagName !== tag) list = root.appendChild(h(tag));
        para = null;
        list.append(inline(h("li"), m[2]));
      } else if (list && /^\s/.test(line)) inline(list.lastChild, " " + line.trim());
      else if (line.trim()) {
        list = null;
        if (para) para.append(h("br"));
        else para = root.appendChild(h("p"));
        inline(para, line);
      }
    }
  }

  //=== Config =================================================================

  /**
   * @typedef {Object} MarginRecord
   * @property {string} type  Record type as the adapter names it: "deal", "case", …
   * @property {string} id    Record id: "D-1001", …
   *
   * @typedef {Object} MarginConfig
   * @property {string} [server]  Margin backend URL. Default: the origin this script came from.
   * @property {string} [token]  A user token minted by the host backend.
   * @property {() => (string|Promise<string>)} [getToken]  Returns a token; called when there is
   *   none yet, and again (once per request) when the backend answers 401 (expired).
   * @property {MarginRecord|null} [record]  The record on screen.
   * @property {string[]} [features]  Tabs, in order: "summarize", "draft", "query".
   * @property {"light"|"dark"|"auto"} [theme]  "auto" follows prefers-color-scheme.
   * @property {string} [locale]  "en", "fr" or a key added to Margin.strings. Default: the page's lang.
   * @property {"right"|"left"} [position]  The side the panel opens on.
   * @property {(text: string, detail: {text: string, record: MarginRecord, kind: string}) => any} [onInsertDraft]
   *   Called by Insert with the finished draft.
   * @property {string} [insertTarget]  CSS selector of the host's reply box (input, textarea or
   *   contenteditable) for Insert; its value is set, then input and change events are dispatched.
   * @property {string|false} [shortcut]  Toggles the panel. Default "Alt+Shift+M"; false: none.
   * @property {boolean} [open]  Open the panel once mounted.
   */
  /** @type {MarginConfig} */
  const defaults = {
    server: "",
    token: "",
    getToken: null,
    record: null,
    features: ["summarize", "draft", "query"],
    theme: "auto",
    locale: "",
    position: "right",
    onInsertDraft: null,
    insertTarget: "",
    shortcut: "Alt+Shift+M",
    open: false,
  };
  const KINDS = ["follow_up_email", "case_reply", "internal_note", "meeting_request"];
  const REASONS = { up: ["accurate", "helpful", "saved_time"], down: ["inaccurate", "unhelpful", "too_long", "unsafe", "other"] };

  //=== Strings ================================================================

  const STRINGS = {
    en: {
      open: "Open Margin assistant",
      close: "Close",
      summarize: "Summary",
      draft: "Draft",
      query: "Ask",
      none: "Open a record to get a summary.",
      again: "Summarize again",
      stop: "Stop",
      stopped: "Stopped.",
      kind: "Kind",
      kinds: ["Follow-up email", "Case reply", "Internal note", "Meeting request"],
      instruction: "Instruction (optional)",
      write: "Write draft",
      insert: "Insert",
      inserted: "Draft inserted.",
      copy: "Copy",
      copied: "Copied.",
      question: "Question",
      hint: "e.g. open deals over $40,000",
      ask: "Ask",
      showing: "Showing {n} of {total}.",
      degraded: "Degraded",
      cached: "Cached",
      fallback: "The main AI service did not answer; a backup took over.",
      working: "Writing…",
      done: "Answer complete.",
      rate: "Was this helpful?",
      up: "Good answer",
      down: "Poor answer",
      reasons: { accurate: "Accurate", helpful: "Helpful", saved_time: "Saved time", inaccurate: "Inaccurate",
        unhelpful: "Unhelpful", too_long: "Too long", unsafe: "Unsafe", other: "Other" },
      comment: "Comment (optional)",
      send: "Send",
      thanks: "Thanks for the feedback.",
      fbError: "Could not send feedback.",
      retry: "Retry",
      e: {
        offline: "Margin can't be reached. It will retry on its own; your app keeps working.",
        unavailable: "The AI service is unavailable right now. Try again in a moment.",
        rate_limited: "Too many requests. Try again in a moment.",
        rate_wait: "Too many requests. Try again in {s} s.",
        forbidden: "You don't have access to this record in Margin.",
        record_not_found: "Margin could not find this record.",
        unauthorized: "Your Margin session has expired. Reload the page.",
        content_filtered: "The answer was blocked by the content filter.",
        context_too_long: "This record is too long to process.",
        host_unavailable: "Margin could not read this record from your app. Try again.",
        interrupted: "The connection dropped before the answer finished.",
        invalid_request: "Margin could not handle this request.",
        internal: "Something went wrong in the Margin panel.",
      },
    },
    fr: {
      open: "Ouvrir l'assistant Margin",
      close: "Fermer",
      summarize: "Résumé",
      draft: "Brouillon",
      query: "Question",
      none: "Ouvrez une fiche pour obtenir un résumé.",
      again: "Résumer à nouveau",
      stop: "Arrêter",
      stopped: "Arrêté.",
      kind: "Type",
      kinds: ["E-mail de relance", "Réponse au dossier", "Note interne", "Demande de rendez-vous"],
      instruction: "Consigne (facultatif)",
      write: "Rédiger",
      insert: "Insérer",
      inserted: "Brouillon inséré.",
      copy: "Copier",
      copied: "Copié.",
      hint: "ex. affaires ouvertes de plus de 40 000 $",
      ask: "Demander",
      showing: "{n} sur {total} affichés.",
      degraded: "Dégradé",
      cached: "En cache",
      fallback: "Le service d'IA principal n'a pas répondu ; un secours a pris le relais.",
      working: "Rédaction…",
      done: "Réponse terminée.",
      rate: "Cette réponse vous aide-t-elle ?",
      up: "Bonne réponse",
      down: "Réponse insuffisante",
      reasons: { accurate: "Exacte", helpful: "Utile", saved_time: "Gain de temps", inaccurate: "Inexacte",
        unhelpful: "Inutile", too_long: "Trop longue", unsafe: "Dangereuse", other: "Autre" },
      comment: "Commentaire (facultatif)",
      send: "Envoyer",
      thanks: "Merci pour votre avis.",
      fbError: "Avis non envoyé.",
      retry: "Réessayer",
      e: {
        offline: "Margin est injoignable. Nouvel essai automatique ; votre application fonctionne.",
        unavailable: "Le service d'IA est indisponible. Réessayez dans un instant.",
        rate_limited: "Trop de demandes. Réessayez dans un instant.",
        rate_wait: "Trop de demandes. Réessayez dans {s} s.",
        forbidden: "Vous n'avez pas accès à cette fiche dans Margin.",
        record_not_found: "Margin ne trouve pas cette fiche.",
        unauthorized: "Votre session Margin a expiré. Rechargez la page.",
        content_filtered: "La réponse a été bloquée par le filtre de contenu.",
        context_too_long: "Cette fiche est trop longue.",
        host_unavailable: "Margin n'a pas pu lire cette fiche dans votre application. Réessayez.",
        interrupted: "La connexion a été coupée avant la fin de la réponse.",
        invalid_request: "Margin n'a pas pu traiter cette demande.",
        internal: "Erreur dans le panneau Margin.",
      },
    },
  };
  // error codes that share another code's message
  const SAME = { timeout: "unavailable", bad_request: "unavailable", not_found: "record_not_found",
    host_timeout: "host_unavailable", body_too_large: "invalid_request" };

  /** A string ("e.offline" reads nested tables) in the current locale, else English; {x} filled in. */
  function t(key, vars = {}) {
    const find = (table) => key.split(".").reduce((o, k) => o && o[k], table);
    const value = find(S && S.strings) || find(STRINGS.en) || key;
    return value.replace ? value.replace(/\{(\w+)\}/g, (_, k) => vars[k]) : value;
  }

  //=== Styles: all inside the shadow root; themed through --margin-* custom properties ===

  const CSS = `
:host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;width:0!important;
height:0!important;overflow:visible!important;z-index:2147483000!important;visibility:visible!important;opacity:1!important}
.root{all:initial;font:14px/1.45 var(--margin-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--fg);
--bg:var(--margin-bg,#fff);--fg:var(--margin-fg,#1f2328);--mut:var(--margin-muted,#59636e);--line:var(--margin-border,#d1d9e0);
--acc:var(--margin-accent,#0a58ca);--on:var(--margin-on-accent,#fff);--soft:var(--margin-surface,#f3f5f7);
--warn:#6a4a00;--warnbg:#fff3c4;--err:#a40e26;--errbg:#ffebe9}
.dark{--bg:var(--margin-bg-dark,#17191e);--fg:var(--margin-fg-dark,#e6e8eb);--mut:var(--margin-muted-dark,#a3abb6);
--line:var(--margin-border-dark,#3a3f47);--acc:var(--margin-accent-dark,#8ab4f8);--on:var(--margin-on-accent-dark,#0d1b2e);
--soft:var(--margin-surface-dark,#22252b);--warn:#ffd66b;--warnbg:#3d3000;--err:#ffb3b8;--errbg:#3d1216}
*{box-sizing:border-box}
[hidden]{display:none!important}
button,input,select,textarea{font:inherit;color:inherit;margin:0}
svg{width:20px;height:20px;fill:currentColor}
:focus-visible{outline:2px solid var(--acc);outline-offset:2px}
.launch{position:fixed;bottom:20px;right:20px;width:52px;height:52px;border:0;border-radius:50%;cursor:pointer;display:grid;
place-items:center;background:var(--acc);color:var(--on);box-shadow:0 4px 14px #0004}
.launch svg{width:26px;height:26px}
.panel{position:fixed;top:0;right:0;bottom:0;width:min(400px,100vw);display:flex;flex-direction:column;background:var(--bg);
border-left:1px solid var(--line);box-shadow:-6px 0 24px #0003;animation:in .16s ease-out}
.left .launch{right:auto;left:20px}
.left .panel{right:auto;left:0;border:0;border-right:1px solid var(--line)}
@keyframes in{from{opacity:0;transform:translateX(12px)}}
header{display:flex;align-items:center;gap:8px;padding:10px 12px 10px 16px;border-bottom:1px solid var(--line)}
h2{all:unset;font-size:16px;font-weight:650}
.rec{flex:1;color:var(--mut);font-size:13px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.icon{display:grid;place-items:center;width:34px;height:34px;border:0;border-radius:8px;background:none;cursor:pointer;color:var(--mut)}
.icon:hover,.icon[aria-pressed=true]{background:var(--soft);color:var(--acc)}
[role=tablist]{display:flex;gap:4px;padding:8px 12px 0;border-bottom:1px solid var(--line)}
[role=tab]{border:0;background:none;padding:8px 12px;cursor:pointer;color:var(--mut);border-bottom:2px solid #0000;font-weight:550}
[aria-selected=true]{color:var(--fg);border-bottom-color:var(--acc)}
[role=tabpanel]{flex:1;overflow:auto;padding:14px 16px 24px}
form{display:grid;gap:8px}
label{font-size:13px;font-weight:550}
input,select,textarea{width:100%;padding:7px 9px;border:1px solid var(--line);border-radius:6px;background:var(--bg)}
textarea{resize:vertical}
::placeholder{color:var(--mut);opacity:1}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}
.btn{padding:6px 14px;border-radius:6px;border:1px solid var(--line);background:var(--soft);cursor:pointer;font-weight:550}
.btn:disabled{opacity:.6}
.pri,.chip[aria-pressed=true]{background:var(--acc);color:var(--on);border-color:var(--acc)}
.badge{font-size:12px;padding:1px 8px;border-radius:10px;background:var(--warnbg);color:var(--warn)}
.mut{color:var(--mut);font-size:13px;margin:6px 0}
.err{background:var(--errbg);color:var(--err);padding:10px 12px;border-radius:8px;margin:8px 0}
.md{overflow-wrap:anywhere}
.md>*{margin:0 0 10px}
.md h4{font-size:14px}
.md ul,.md ol{padding-left:22px}
.md a{color:var(--acc)}
code{font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace;background:var(--soft);padding:1px 4px;border-radius:4px}
pre{background:var(--soft);padding:8px 10px;border-radius:6px;white-space:pre-wrap}
.busy .md>:last-child::after,.busy .md:empty::after{content:"▍";color:var(--acc);animation:blink 1s steps(2) infinite}
@keyframes blink{50%{opacity:0}}
.tbl{overflow:auto;margin:8px 0;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:13px}
caption{text-align:left;padding:6px 8px;color:var(--mut)}
th,td{text-align:left;padding:5px 8px;border-top:1px solid var(--line);white-space:nowrap}
th{background:var(--soft)}
.fb{border-top:1px solid var(--line);margin-top:12px}
.dn svg{transform:rotate(180deg)}
.chip{padding:2px 10px;border-radius:12px;border:1px solid var(--line);background:none;cursor:pointer;font-size:13px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
@media (prefers-reduced-motion:reduce){*,::after{animation:none!important;transition:none!important}}`;

  //=== State ==================================================================

  // The mounted widget (one per page): config, DOM, one view per tab, record, token, focus to
  // restore, views waiting for the backend to come back, reconnect back-off, window listeners.
  // A view holds a tab's answer area and its request (AbortController, body, text, meta).
  let S = null;

  //=== Rendering ==============================================================

  function build() {
    const s = S;
    const host = (s.host = h("margin-sidebar"));
    const shadow = (s.shadow = host.attachShadow({ mode: "open" }));
    try {
      const sheet = new CSSStyleSheet(); // a constructed sheet passes a strict style-src CSP
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      shadow.append(h("style", null, CSS));
    }
    const features = [...new Set(s.cfg.features)].filter((f) => ["summarize", "draft", "query"].includes(f));
    if (!features.length) features.push("summarize");
    const tablist = h("div", { role: "tablist", "aria-label": "Margin", onkeydown: tabKeys });
    const label = t("open") + (s.cfg.shortcut ? " (" + s.cfg.shortcut + ")" : "");
    s.views = {};
    s.tabs = {};
    for (const f of features) {
      s.tabs[f] = tablist.appendChild(button(t(f), () => select(f), "", { role: "tab", id: "t-" + f, "aria-controls": "p-" + f }));
      s.views[f] = view(f);
    }
    s.rec = h("span", { class: "rec" });
    s.live = h("div", { class: "sr", role: "status", "aria-live": "polite" });
    s.launch = button(icon(CHAT), open, "launch", { "aria-label": label, title: label, "aria-expanded": "false", "aria-controls": "panel" });
    s.panel = h("section", { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "ttl", hidden: true },
      h("header", null, h("h2", { id: "ttl" }, "Margin"), s.rec, button(icon(CROSS), close, "icon", { "aria-label": t("close"), title: t("close") })),
      tablist, features.map((f) => s.views[f].panel), s.live);
    s.root = h("div", { class: "root " + s.cfg.position, onkeydown: rootKeys }, s.launch, s.panel);
    shadow.append(s.root);
    theme();
    select(features[0], true);
    showRecord();
    (document.body || document.documentElement).append(host);
  }

  /** One tab: its form, then the answer area. */
  function view(feature) {
    const v = { feature, text: "", said: 0 };
    for (const k of ["badges", "note", "err", "table", "foot", "tools", "fb"]) v[k] = h(k === "note" ? "p" : "div", { hidden: true });
    v.badges.className = v.tools.className = "row";
    v.note.className = v.foot.className = "mut";
    v.err.className = "err";
    v.err.setAttribute("role", "alert");
    v.fb.className = "fb";
    v.out = h("div", { class: "md" });
    v.stop = button(t("stop"), () => stop(v), "btn", { hidden: true });
    v.box = h("div", null, v.badges, v.note, v.err, v.out, v.table, v.foot, v.tools, v.fb);
    v.panel = h("div", { role: "tabpanel", id: "p-" + feature, "aria-labelledby": "t-" + feature }, form(v), v.box);
    return v;
  }

  function form(v) {
    if (v.feature === "summarize") return h("div", { class: "row" }, button(t("again"), () => summarize(true)), v.stop);
    const go = h("div", { class: "row" }, button(t(v.feature === "draft" ? "write" : "ask"), null, "btn pri", { type: "submit" }), v.stop);
    const submit = (fn) => (e) => {
      e.preventDefault(); // first, so the host page never navigates
      fn();
    };
    if (v.feature === "draft") {
      return h("form", { onsubmit: submit(draft) },
        h("label", { for: "kind" }, t("kind")),
        h("select", { id: "kind" }, KINDS.map((k, i) => h("option", { value: k }, t("kinds")[i]))),
        h("label", { for: "instr" }, t("instruction")),
        h("textarea", { id: "instr", rows: 2, maxlength: 2000 }), go);
    }
    return h("form", { onsubmit: submit(ask) },
      h("label", { for: "q" }, t("question")),
      h("input", { id: "q", placeholder: t("hint"), autocomplete: "off", maxlength: 500 }), go);
  }

  function theme() {
    const mode = S.cfg.theme;
    S.root.classList.toggle("dark", mode === "dark" || (mode !== "light" && matchMedia("(prefers-color-scheme: dark)").matches));
  }

  function showRecord() {
    const r = S.record;
    const kind = S.shadow.getElementById("kind");
    S.rec.textContent = r ? r.type + " " + r.id : "";
    if (kind && r) kind.value = r.type === "case" ? "case_reply" : "follow_up_email";
  }

  function select(f, quiet) {
    S.tab = f;
    for (const k in S.tabs) {
      S.tabs[k].setAttribute("aria-selected", k === f);
      S.views[k].panel.hidden = k !== f;
    }
    if (!quiet) summarize(false);
  }

  /** Arrow keys, Home and End move between tabs (Tab reaches each of them too). */
  function tabKeys(e) {
    const keys = Object.keys(S.tabs);
    const i = keys.indexOf(S.tab);
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: -1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    const f = keys[(j + keys.length) % keys.length];
    select(f);
    S.tabs[f].focus();
  }

  /** Esc closes. Keys typed into our fields stop here, so the host's own shortcuts stay quiet. */
  function rootKeys(e) {
    if (e.key === "Escape" && S.isOpen) {
      e.stopPropagation();
      close();
    } else if (/^(INPUT|TEXTAREA|SELECT)$/.test(e.composedPath()[0].tagName) && !isShortcut(e)) {
      e.stopPropagation();
    }
  }

  /** Paint the streamed text; called at most once per animation frame. */
  function paint(v) {
    v.frame = 0;
    if (v.text !== v.shown) markdown(v.out, (v.shown = v.text));
    announce(v, false);
  }

  /** Hand the polite live region whole sentences, at most every 2 s, not every token. */
  function announce(v, final) {
    const fresh = v.text.slice(v.said);
    const cut = final ? fresh.length : Math.max(fresh.lastIndexOf(". "), fresh.lastIndexOf("\n")) + 1;
    if (!fresh.trim() || cut < 1 || (!final && Date.now() - S.saidAt < 2000) || S.tab !== v.feature) return;
    say(fresh.slice(0, cut).replace(/[*_`#]/g, ""));
    v.said += cut;
  }

  function say(text) {
    if (!S || !S.isOpen) return;
    S.live.textContent = text;
    S.saidAt = Date.now();
  }

  function reset(v) {
    cancelAnimationFrame(v.frame);
    Object.assign(v, { text: "", shown: "", said: 0, frame: 0, meta: null });
    for (const k of ["badges", "note", "err", "table", "foot", "tools", "fb"]) {
      v[k].textContent = "";
      v[k].hidden = true;
    }
    v.out.textContent = "";
  }

  function busy(v, on) {
    if (!on && v.stop.getRootNode().activeElement === v.stop) v.stop.previousElementSibling.focus(); // Stop hides
    v.box.classList.toggle("busy", on);
    v.out.setAttribute("aria-busy", on);
    v.stop.hidden = !on;
  }

  /** Show an error's friendly message and a Retry button; tell the host through margin:error. */
  function fail(v, e) {
    const err = e instanceof MarginError ? e : new MarginError("internal", String((e && e.message) || e));
    const { code, retryAfter } = err;
    const key = "e." + (SAME[code] || code);
    let text = t(key);
    if (text === key) text = code !== "internal" && err.message !== code ? err.message : t("e.internal");
    if (code === "rate_limited" && retryAfter) text = t("e.rate_wait", { s: Math.ceil(retryAfter) });
    emit("error", { code, message: text, detail: err.message, status: err.status, retryAfter, feature: v && v.feature });
    if (!v || !S) return;
    const again = button(t("retry"), () => retry(v));
    if (retryAfter) {
      again.disabled = true;
      setTimeout(() => (again.disabled = false), retryAfter * 1000);
    }
    v.err.replaceChildren(h("div", null, text), again);
    v.err.hidden = false;
    if (code === "offline") offline(v);
  }

  function table(v, r) {
    const rows = r.rows || [];
    const cell = (c) => (c == null ? "—" : c.toLocaleString(lang()));
    const head = (c) => (c[0].toUpperCase() + c.slice(1)).replace(/_/g, " ");
    v.table.replaceChildren(
      h("div", { class: "tbl", role: "region", tabindex: 0, "aria-label": r.description },
        h("table", null, h("caption", null, r.description),
          h("thead", null, h("tr", null, (r.columns || []).map((c) => h("th", { scope: "col" }, head(c))))),
          h("tbody", null, rows.map((row) => h("tr", null, row.map((c) => h("td", null, cell(c)))))))),
      r.total > rows.length ? h("p", { class: "mut" }, t("showing", { n: rows.length, total: r.total })) : "");
    v.table.hidden = false;
  }

  /** Thumbs up/down; a thumb is posted at once, then reason tags and a comment may follow. */
  function feedback(v) {
    const thumb = (r) => button(icon(THUMB), () => rate(v, r), r === "up" ? "icon" : "icon dn",
      { "aria-label": t(r), title: t(r), "aria-pressed": "false", "data-rating": r });
    v.fbMsg = h("p", { class: "mut" });
    v.fb.replaceChildren(h("div", { class: "row" }, h("span", { class: "mut" }, t("rate")), thumb("up"), thumb("down")), h("div"), v.fbMsg);
    v.fb.hidden = !(v.meta && v.meta.interaction_id);
  }

  function rate(v, rating) {
    for (const b of v.fb.querySelectorAll("[data-rating]")) b.setAttribute("aria-pressed", b.dataset.rating === rating);
    const press = (e) => e.currentTarget.setAttribute("aria-pressed", e.currentTarget.getAttribute("aria-pressed") !== "true");
    const chips = REASONS[rating].map((r) => button(t("reasons." + r), press, "chip", { "aria-pressed": "false", "data-reason": r }));
    const comment = h("textarea", { id: "fbc-" + v.feature, rows: 2, maxlength: 2000 });
    const details = h("div", null,
      h("div", { class: "row", role: "group", "aria-label": t(rating) }, chips),
      h("label", { for: comment.id }, t("comment")), comment,
      h("div", { class: "row" }, button(t("send"), async () => {
        const reasons = chips.filter((c) => c.getAttribute("aria-pressed") === "true").map((c) => c.dataset.reason);
        if (await sendFeedback(v, rating, reasons, comment.value.trim())) {
          details.remove();
          v.fb.querySelector("[aria-pressed=true]").focus(); // Send is gone; keep focus nearby
        }
      })));
    v.fb.children[1].replaceWith(details);
    return sendFeedback(v, rating, [], "");
  }

  /** Feedback posts go one after another: the backend keeps one per user and answer, the latest. */
  function sendFeedback(v, rating, reasons, comment) {
    const body = { interaction_id: v.meta.interaction_id, rating, reasons, comment: comment || null };
    return (v.fbq = (v.fbq || Promise.resolve()).then(async () => {
      try {
        const res = await post("/v1/feedback", body);
        if (!res.ok) throw await httpError(res);
        say((v.fbMsg.textContent = t("thanks")));
        emit("feedback", body);
        return true;
      } catch (e) {
        say((v.fbMsg.textContent = t("fbError")));
        emit("error", { code: e.code || "internal", message: t("fbError"), detail: e.message, feature: v.feature });
      }
    }));
  }

  //=== SSE client: fetch + ReadableStream (EventSource can neither POST nor send headers) ===

  /** The bearer token: `token`, else getToken(); `fresh` asks getToken again (after a 401). */
  async function bearer(fresh) {
    const s = S;
    if (s.cfg.getToken && (fresh || !s.token)) {
      try {
        s.token = await s.cfg.getToken();
      } catch (e) {
        throw new MarginError("unauthorized", "getToken failed: " + e);
      }
    }
    if (!s.token) throw new MarginError("unauthorized", "no token");
    return s.token;
  }

  /** fetch(), with network failures (server down, CORS refused) turned into MarginError("offline"). */
  function net(url, init) {
    return fetch(url, init).catch((e) => {
      throw e.name === "AbortError" ? e : new MarginError("offline", e.message);
    });
  }

  /** POST JSON to the backend; on a 401, ask getToken once more and try again. */
  async function post(path, body, signal, sse, fresh) {
    const s = S;
    const res = await net(s.cfg.server + path, {
      method: "POST",
      signal,
      credentials: "omit",
      cache: "no-store",
      headers: {
        Authorization: "Bearer " + (await bearer(fresh)),
        "Content-Type": "application/json",
        Accept: sse ? "text/event-stream" : "application/json",
      },
      body: JSON.stringify(body),
    });
    return res.status === 401 && !fresh && s.cfg.getToken ? post(path, body, signal, sse, true) : res;
  }

  /** A MarginError from an error response: {status_code, code, detail} and Retry-After. */
  async function httpError(res) {
    const body = await res.json().catch(noop) || {};
    const status = res.status;
    const code = { 401: "unauthorized", 403: "forbidden", 429: "rate_limited" }[status] ||
      (body.code && body.code !== "error" ? body.code : status >= 500 ? "unavailable" : "invalid_request");
    return new MarginError(code, body.detail || res.statusText, +res.headers.get("Retry-After"), status);
  }

  /**
   * Stream one feature request, calling on(type, data) for meta, delta and result events.
   * Resolves with `done`; rejects with a MarginError on `error` or when the stream is cut short.
   */
  async function stream(path, body, signal, on) {
    const res = await post(path, body, signal, true);
    if (!res.ok) throw await httpError(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read().catch((e) => {
          throw signal.aborted ? e : new MarginError("offline", e.message);
        });
        if (done) throw new MarginError("interrupted");
        buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          let data = "";
          for (const line of buf.slice(0, end).split("\n")) if (line.startsWith("data:")) data += line.slice(5); // ": heartbeat" skipped
          buf = buf.slice(end + 2);
          if (!data) continue;
          const msg = JSON.parse(data);
          if (msg.type === "error") throw new MarginError(msg.code, msg.message, msg.retry_after);
          if (msg.type === "done") return msg;
          on(msg.type, msg);
        }
      }
    } finally {
      reader.cancel().catch(noop);
    }
  }

  /** Run a feature into its view: stream, paint per animation frame, then feedback and tools. */
  async function run(v, body) {
    const s = S;
    if (v.ctrl) v.ctrl.abort();
    const ctrl = (v.ctrl = new AbortController());
    const live = () => v.ctrl === ctrl && S === s;
    try {
      reset(v);
      Object.assign(v, { req: body, loaded: true });
      busy(v, true);
      say(t("working"));
      const done = await stream("/v1/" + v.feature, body, ctrl.signal, (type, d) => {
        if (!live()) return;
        if (type === "meta") {
          if (v.meta) v.note.textContent = t("fallback"); // a fallback provider took over
          v.note.hidden = !v.meta;
          v.meta = d;
          if (d.mode !== "continue") Object.assign(v, { text: "", said: 0 }); // "restart": drop what was shown
          v.badges.replaceChildren(...[d.degraded && "degraded", d.cached && "cached"].filter(Boolean).map((k) =>
            h("span", { class: "badge" }, t(k))));
          v.badges.hidden = !v.badges.firstChild;
        } else if (type === "delta") {
          v.text += d.text;
          if (!v.frame) v.frame = requestAnimationFrame(guard(() => paint(v)));
        } else if (type === "result") table(v, d);
      });
      if (!live()) return;
      s.delay = 0; // the backend answers: a later outage starts its back-off afresh
      paint(v);
      announce(v, true);
      say(t("done"));
      v.foot.textContent = v.meta.model + " · " + (done.latency_ms / 1000).toFixed(1) + " s";
      v.foot.hidden = false;
      tools(v);
      feedback(v);
      emit("answer", { feature: v.feature, text: v.text, meta: v.meta, done });
    } catch (e) {
      if (!live()) return;
      paint(v);
      if (!ctrl.signal.aborted) return fail(v, e);
      v.foot.textContent = t("stopped");
      v.foot.hidden = false;
      say(t("stopped"));
    } finally {
      if (v.ctrl === ctrl) {
        v.ctrl = null;
        busy(v, false);
      }
    }
  }

  /** Stop: abort the fetch; the backend sees the disconnect and cancels the provider call. */
  function stop(v) {
    if (v.ctrl) v.ctrl.abort();
  }

  function retry(v) {
    if (v.req) run(v, v.req);
  }

  /** Backend unreachable: remember the view; probe /healthz with back-off (and on `online`). */
  function offline(v) {
    S.pending.add(v);
    if (!S.timer) {
      S.delay = Math.min(30000, (S.delay || 500) * 2);
      S.timer = setTimeout(guard(probe), S.delay);
    }
  }

  async function probe() {
    const s = S;
    if (!s || !s.pending.size) return;
    clearTimeout(s.timer);
    s.timer = 0;
    try {
      await fetch(s.cfg.server + "/healthz", { mode: "no-cors", cache: "no-store", credentials: "omit" });
    } catch (e) {
      if (S === s) offline([...s.pending][0]);
      return;
    }
    if (S !== s) return;
    const views = [...s.pending];
    s.pending.clear();
    for (const v of views) if (!v.ctrl) retry(v);
  }

  //=== Features ===============================================================

  function summarize(force) {
    const v = S.views.summarize;
    if (!v || S.tab !== "summarize" || (v.loaded && !force)) return;
    if (S.record) return run(v, { record: S.record });
    reset(v);
    v.out.append(h("p", { class: "mut" }, t("none")));
  }

  function draft() {
    const instruction = S.shadow.getElementById("instr").value.trim();
    const body = { record: S.record, kind: S.shadow.getElementById("kind").value };
    if (instruction) body.instruction = instruction;
    if (!S.record) return fail(S.views.draft, new MarginError("record_not_found"));
    run(S.views.draft, body);
  }

  function ask() {
    const question = S.shadow.getElementById("q").value.trim();
    if (question) run(S.views.query, S.record ? { question, record: S.record } : { question });
  }

  /** Insert and Copy under a finished draft. */
  function tools(v) {
    if (v.feature !== "draft" || !v.text) return;
    v.tools.replaceChildren(
      S.cfg.onInsertDraft || S.cfg.insertTarget ? button(t("insert"), () => insert(v), "btn pri") : "",
      button(t("copy"), () => copy(v)));
    v.tools.hidden = false;
  }

  async function insert(v) {
    const cfg = S.cfg;
    const detail = { text: v.text, record: S.record, kind: v.req.kind };
    if (!emit("before-draft-insert", detail, true)) return;
    if (cfg.onInsertDraft) await cfg.onInsertDraft(v.text, detail);
    else {
      const box = document.querySelector(cfg.insertTarget);
      if (!box) throw new MarginError("invalid_request", "insertTarget not found: " + cfg.insertTarget);
      if ("value" in box) box.value = v.text;
      else box.textContent = v.text;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
    say(t("inserted"));
    emit("draft-insert", detail);
  }

  async function copy(v) {
    try {
      await navigator.clipboard.writeText(v.text);
      say(t("copied"));
    } catch (e) {
      getSelection().selectAllChildren(v.out); // no clipboard access: select it for Ctrl+C
    }
  }

  //=== Public API =============================================================

  function isShortcut(e) {
    const parts = String((S && S.cfg.shortcut) || "").toLowerCase().split("+");
    const key = parts.pop();
    const mods = ["alt", "shift", "ctrl", "meta"].every((m) => e[m + "Key"] === parts.includes(m));
    // e.code, because Alt changes e.key on macOS ("µ" for Alt+M)
    return !!key && mods && ((e.code || "").toLowerCase() === (/^\w$/.test(key) ? (/\d/.test(key) ? "digit" : "key") + key : key) ||
      (e.key || "").toLowerCase() === key);
  }

  function lang() {
    return (S && S.cfg.locale) || document.documentElement.lang || navigator.language || "en";
  }

  function validRecord(r) {
    if (r == null) return null;
    if (!r.type || !r.id) throw new MarginError("invalid_request", "Margin: a record needs a type and an id");
    return { type: String(r.type), id: String(r.id) };
  }

  /** Mount the widget, replacing one already mounted. @param {MarginConfig} options */
  function mount(options) {
    const cfg = { ...defaults };
    for (const k in options) if (options[k] !== undefined) cfg[k] = options[k];
    const record = validRecord(cfg.record);
    if (S) unmount();
    cfg.server = (cfg.server || (script && script.src ? new URL(script.src).origin : "")).replace(/\/+$/, "");
    if (cfg.position !== "left") cfg.position = "right";
    const s = (S = { cfg, record, token: cfg.token, pending: new Set(), delay: 0, timer: 0, saidAt: 0, listeners: [] });
    s.strings = STRINGS[lang().toLowerCase().split(/[-_]/)[0]] || STRINGS.en;
    build();
    const on = (target, type, fn) => {
      target.addEventListener(type, (fn = guard(fn)));
      s.listeners.push([target, type, fn]);
    };
    on(window, "keydown", (e) => {
      if (isShortcut(e)) {
        e.preventDefault();
        toggle();
      }
    });
    on(window, "online", probe);
    on(matchMedia("(prefers-color-scheme: dark)"), "change", theme);
    if (!cfg.server) fail(null, new MarginError("invalid_request", "Margin: no server configured"));
    emit("mount", { record });
    if (cfg.open) open();
  }

  /** Follow another record (single-page hosts): running requests stop, the panel starts over. @param {MarginRecord|null} record */
  function setRecord(record) {
    const r = validRecord(record);
    if (!S || (r && S.record && r.type === S.record.type && r.id === S.record.id)) return;
    S.record = r;
    S.pending.clear();
    for (const v of Object.values(S.views)) {
      stop(v);
      busy(v, false);
      reset(v);
      Object.assign(v, { ctrl: null, req: null, loaded: false });
    }
    showRecord();
    emit("record", { record: r });
    if (S.isOpen) summarize(false);
  }

  /** Open the panel; focus moves into it (margin:before-open can cancel). */
  function open() {
    const s = S;
    if (!s || s.isOpen || !emit("before-open", { record: s.record }, true)) return;
    const active = document.activeElement;
    s.back = active === s.host ? s.launch : active;
    s.isOpen = true;
    s.panel.hidden = false;
    s.launch.hidden = true;
    s.launch.setAttribute("aria-expanded", "true");
    s.tabs[s.tab].focus();
    summarize(false);
    emit("open", { record: s.record });
  }

  /** Close the panel; focus goes back where it was (margin:before-close can cancel). */
  function close() {
    const s = S;
    if (!s || !s.isOpen || !emit("before-close", { record: s.record }, true)) return;
    const back = s.back;
    s.isOpen = false;
    s.panel.hidden = true;
    s.launch.hidden = false;
    s.launch.setAttribute("aria-expanded", "false");
    if (back && back.isConnected && back !== document.body && back.focus) back.focus();
    else s.launch.focus();
    emit("close", { record: s.record });
  }

  function toggle() {
    if (S) (S.isOpen ? close : open)();
  }

  /** Remove the widget: requests stop, listeners go, the host element leaves the page. */
  function unmount() {
    const s = S;
    if (!s) return;
    for (const v of Object.values(s.views)) {
      stop(v);
      cancelAnimationFrame(v.frame);
    }
    for (const [target, type, fn] of s.listeners) target.removeEventListener(type, fn);
    clearTimeout(s.timer);
    s.host.remove();
    S = null;
    emit("unmount", {});
  }

  /** Anything unexpected: shown in the current tab and sent as margin:error, never thrown. */
  function report(e) {
    try {
      fail(S && S.views[S.tab], e);
    } catch (e2) {}
  }

  window.Margin = Object.freeze({
    mount: guard(mount),
    setRecord: guard(setRecord),
    open: guard(open),
    close: guard(close),
    toggle: guard(toggle),
    unmount: guard(unmount),
    isOpen: () => !!(S && S.isOpen),
    /** Strings by language: add one with Margin.strings.de = {...} (missing keys fall back to English). */
    strings: STRINGS,
  });

  //=== Init: mount from the script tag's data attributes ========================

  const auto = guard(() => {
    const d = script && script.dataset;
    if (!d || !d.token) return; // no token: the host calls Margin.mount({getToken, ...}) itself
    const opts = {
      server: d.server,
      token: d.token,
      record: d.recordId ? { type: d.recordType, id: d.recordId } : null,
      features: d.features && d.features.split(/[\s,]+/),
      theme: d.theme,
      locale: d.locale,
      position: d.position,
      insertTarget: d.insertTarget,
      shortcut: d.shortcut === "off" ? false : d.shortcut,
      open: d.open === "true",
    };
    mount(opts);
  });
  emit("ready", {}); // window.Margin exists: a host without data-token can mount now
  if (document.body) auto();
  else document.addEventListener("DOMContentLoaded", auto);
})();
