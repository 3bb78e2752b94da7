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
    for (const kid of kids.flat(9)) if (kid != null && kid !== false) node.append(kid);
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
   * Each key is explained in docs/widget.md.
   * @typedef {{type: string, id: string}} MarginRecord
   * @typedef {{category: ?string, priority: ?string, tags: string[], interactionId: string}} MarginTriage
   * @typedef {{server?: string, token?: string, getToken?: () => (string|Promise<string>), record?: ?MarginRecord,
   *   features?: ?string[], theme?: "light"|"dark"|"auto", locale?: string, position?: "right"|"left",
   *   onInsertDraft?: (text: string, detail: {text: string, record: MarginRecord, kind: string}) => any,
   *   insertTarget?: string, onApplyTriage?: (values: MarginTriage) => any, shortcut?: string|false, open?: boolean}} MarginConfig
   */
  /** @type {MarginConfig} */
  const defaults = {
    server: "",
    token: "",
    getToken: null,
    record: null,
    features: null,
    theme: "auto",
    locale: "",
    position: "right",
    onInsertDraft: null,
    insertTarget: "",
    onApplyTriage: null,
    shortcut: "Alt+Shift+M",
    open: false,
  };

  //=== Strings ================================================================

  // `L` overrides the labels of GET /v1/features: "draft", "draft.kind", "draft.kind.case_reply", and
  // "draft.run" ("draft.again" if auto_run), the button.
  const STRINGS = {
    en: {
      open: "Open Margin assistant",
      close: "Close",
      none: "Open a record to use this.",
      again: "Regenerate",
      run: "Run",
      optional: "(optional)",
      stop: "Stop",
      stopped: "Stopped.",
      insert: "Insert",
      inserted: "Draft inserted.",
      copy: "Copy",
      copied: "Copied.",
      apply: "Apply",
      applied: "Applied to the record.",
      category: "Category",
      priority: "Priority",
      tags: "Tags",
      showing: "Showing {n} of {total}.",
      degraded: "Degraded",
      cached: "Cached",
      fallback: "The main AI service did not answer; a backup took over.",
      working: "Writing…",
      done: "Answer complete.",
      rate: "Was this helpful?",
      up: "Good answer",
      down: "Poor answer",
      comment: "Comment (optional)",
      send: "Send",
      thanks: "Thanks for the feedback.",
      fbError: "Could not send feedback.",
      retry: "Retry",
      L: { "summarize.again": "Summarize again", "draft.run": "Write draft", "query.run": "Ask", "triage.run": "Suggest" },
      e: {
        offline: "Margin can't be reached. It will retry on its own; your app keeps working.",
        unavailable: "The AI service is unavailable right now. Try again in a moment.",
        rate_limited: "Too many requests. Try again in a moment.",
        rate_wait: "Too many requests. Try again in {s} s.",
        quota_exceeded: "Your Margin usage limit is reached for now.",
        forbidden: "You don't have access to this record in Margin.",
        record_not_found: "Margin could not find this record.",
        unauthorized: "Your Margin session has expired. Reload the page.",
        content_filtered: "The answer was blocked by the content filter.",
        context_too_long: "This record is too long to process.",
        sensitive_data: "Sensitive data: no allowed AI service can take this record.",
        host_unavailable: "Margin could not read this record from your app. Try again.",
        feature_unavailable: "Not available for this record.",
        interrupted: "The connection dropped before the answer finished.",
        invalid_request: "Margin could not handle this request.",
        internal: "Something went wrong in Margin. Try again.",
      },
    },
    fr: {
      open: "Ouvrir l'assistant Margin",
      close: "Fermer",
      none: "Ouvrez une fiche pour utiliser cette fonction.",
      again: "Régénérer",
      run: "Lancer",
      optional: "(facultatif)",
      stop: "Arrêter",
      stopped: "Arrêté.",
      insert: "Insérer",
      inserted: "Brouillon inséré.",
      copy: "Copier",
      copied: "Copié.",
      apply: "Appliquer",
      applied: "Appliqué à la fiche.",
      category: "Catégorie",
      priority: "Priorité",
      tags: "Étiquettes",
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
      L: { summarize: "Résumé", draft: "Brouillon", query: "Question", "summarize.again": "Résumer à nouveau",
        "draft.kind": "Type", "draft.kind.follow_up_email": "E-mail de relance", "draft.kind.case_reply": "Réponse au client",
        "draft.kind.internal_note": "Note interne", "draft.kind.meeting_request": "Demande de rendez-vous",
        "draft.instruction": "Consigne", "draft.run": "Rédiger",
        "query.run": "Demander", "triage.run": "Suggérer" },
      e: {
        offline: "Margin est injoignable. Nouvel essai automatique ; votre application fonctionne.",
        unavailable: "Le service d'IA est indisponible. Réessayez dans un instant.",
        rate_limited: "Trop de demandes. Réessayez dans un instant.",
        rate_wait: "Trop de demandes. Réessayez dans {s} s.",
        quota_exceeded: "Limite d'utilisation de Margin atteinte pour le moment.",
        forbidden: "Vous n'avez pas accès à cette fiche dans Margin.",
        record_not_found: "Margin ne trouve pas cette fiche.",
        unauthorized: "Votre session Margin a expiré. Rechargez la page.",
        content_filtered: "La réponse a été bloquée par le filtre de contenu.",
        context_too_long: "Cette fiche est trop longue.",
        sensitive_data: "Données sensibles : aucun service d'IA autorisé ne peut traiter cette fiche.",
        host_unavailable: "Margin n'a pas pu lire cette fiche dans votre application. Réessayez.",
        feature_unavailable: "Non disponible pour cette fiche.",
        interrupted: "La connexion a été coupée avant la fin de la réponse.",
        invalid_request: "Margin n'a pas pu traiter cette demande.",
        internal: "Erreur inattendue dans Margin. Réessayez.",
      },
    },
  };
  // error codes that share another code's message
  const SAME = { timeout: "unavailable", bad_request: "unavailable", not_found: "record_not_found",
    host_timeout: "host_unavailable", body_too_large: "invalid_request", internal_error: "internal" };

  /** A string ("e.offline" reads nested tables) in the current locale, else English; {x} filled in. */
  function t(key, vars = {}) {
    const find = (table) => key.split(".").reduce((o, k) => o && o[k], table);
    const value = find(S && S.strings) || find(STRINGS.en) || key;
    return value.replace ? value.replace(/\{(\w+)\}/g, (_, k) => vars[k]) : value;
  }

  /** A feature's label: the locale's `L`, else English's, else the backend's. */
  function lbl(key, fallback) {
    const find = (table) => table && table.L && table.L[key];
    return find(S.strings) || find(STRINGS.en) || fallback;
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
.tag{display:inline-block;padding:1px 8px;border-radius:10px;border:1px solid var(--line);background:var(--soft);font-size:13px}
.res{margin:8px 0;overflow-wrap:anywhere}
.res dt{font-size:13px;font-weight:650;margin-top:8px}
.res dd{margin:2px 0}
.boot{padding:0 16px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
@media (prefers-reduced-motion:reduce){*,::after{animation:none!important;transition:none!important}}`;

  //=== State ==================================================================

  // The mounted widget (one per page): config, DOM, feature descriptors, one view per tab, record,
  // token, views waiting for the backend, back-off, listeners. A view: a tab's form, answer, request.
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
    const label = t("open") + (s.cfg.shortcut ? " (" + s.cfg.shortcut + ")" : "");
    s.views = {};
    s.tabs = {};
    s.tablist = h("div", { role: "tablist", "aria-label": "Margin", onkeydown: tabKeys });
    s.boot = { err: h("div", { class: "err", role: "alert", hidden: true }) }; // GET /v1/features failed
    s.rec = h("span", { class: "rec" });
    s.live = h("div", { class: "sr", role: "status", "aria-live": "polite" });
    s.launch = button(icon(CHAT), open, "launch", { "aria-label": label, title: label, "aria-expanded": "false", "aria-controls": "panel" });
    s.panel = h("section", { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "ttl", tabindex: -1, hidden: true },
      h("header", null, h("h2", { id: "ttl" }, "Margin"), s.rec, button(icon(CROSS), close, "icon", { "aria-label": t("close"), title: t("close") })),
      s.tablist, h("div", { class: "boot" }, s.boot.err), s.live);
    s.root = h("div", { class: "root " + s.cfg.position, onkeydown: rootKeys }, s.launch, s.panel);
    shadow.append(s.root);
    theme();
    showRecord();
    (document.body || document.documentElement).append(host);
  }

  /** The feature descriptors, once per mount: they make the tabs. */
  async function load() {
    const s = S;
    try {
      const res = await call("/v1/features");
      if (!res.ok) throw await httpError(res);
      const body = await res.json();
      if (S === s) tabs(body.features, body.feedback_reasons);
    } catch (e) {
      if (S === s) fail(s.boot, e);
    }
  }

  /** A tab per descriptor, filtered and ordered by the `features` option; the reasons a thumb may carry. */
  function tabs(list, reasons) {
    const s = S;
    const want = s.cfg.features;
    if (s.feats) return; // a second load() (Retry, twice)
    s.reasons = reasons || {};
    let feats = want ? [...new Set(want)].map((n) => list.find((d) => d.name === n)).filter(Boolean) : list;
    if (!feats.length) feats = list;
    s.feats = feats;
    s.delay = 0;
    s.boot.err.hidden = true;
    for (const d of feats) {
      const f = d.name;
      s.tabs[f] = s.tablist.appendChild(button(lbl(f, d.title), () => select(f), "", { role: "tab", id: "t-" + f, "aria-controls": "p-" + f }));
      s.views[f] = view(d);
      s.live.before(s.views[f].panel);
    }
    showRecord();
    if (s.shadow.activeElement === s.panel) (s.tabs[s.tab] || s.panel).focus();
    if (s.isOpen) autorun(false);
  }

  /** One tab: a form from the descriptor's inputs, then the answer area. */
  function view(d) {
    const f = d.name;
    const v = { feature: f, d, text: "", said: 0 };
    for (const k of ["badges", "note", "err", "table", "foot", "tools", "fb"]) v[k] = h(k === "note" ? "p" : "div", { hidden: true });
    v.badges.className = v.tools.className = "row";
    v.note.className = v.foot.className = "mut";
    v.err.className = "err";
    v.err.setAttribute("role", "alert");
    v.fb.className = "fb";
    v.out = h("div", { class: "md" });
    v.stop = button(t("stop"), () => stop(v), "btn", { hidden: true });
    v.box = h("div", null, v.badges, v.note, v.err, v.out, v.table, v.foot, v.tools, v.fb);
    v.fields = d.inputs.map((i) => [i, field(f, i)]);
    const again = d.auto_run ? "again" : "run";
    v.panel = h("div", { role: "tabpanel", id: "p-" + f, "aria-labelledby": "t-" + f },
      h("form", {
        onsubmit: (e) => {
          e.preventDefault(); // first, so the host page never navigates
          go(v);
        },
      }, v.fields.map(([i, el]) => [h("label", { for: el.id }, el.lab), el]),
      h("div", { class: "row" }, button(lbl(f + "." + again, t(again)), null, d.auto_run ? "btn" : "btn pri", { type: "submit" }), v.stop)),
      v.box);
    return v;
  }

  /** A select for a "choice" input, else a text field. */
  function field(f, i) {
    const k = f + "." + i.name;
    const id = "i-" + f + "-" + i.name;
    const area = !i.max_length || i.max_length > 1000;
    const el = i.type === "choice"
      ? h("select", { id }, i.required ? "" : h("option", { value: "" }, "—"),
        i.choices.map((c) => h("option", { value: c.value }, lbl(k + "." + c.value, c.label))))
      : h(area ? "textarea" : "input", { id, maxlength: i.max_length,
        autocomplete: "off", required: i.required });
    el.lab = lbl(k, i.label) + (i.required ? "" : " " + t("optional"));
    return el;
  }

  function theme() {
    const mode = S.cfg.theme;
    S.root.classList.toggle("dark", mode === "dark" || (mode !== "light" && matchMedia("(prefers-color-scheme: dark)").matches));
  }

  /** The record in the header, tabs for its type, choices preset for it (`case_reply` on a case). */
  function showRecord() {
    const r = S.record;
    let first;
    S.rec.textContent = r ? r.type + " " + r.id : "";
    for (const f in S.views) {
      const d = S.views[f].d;
      const on = !d.record_types.length || (r && d.record_types.includes(r.type));
      S.tabs[f].hidden = !on;
      first = first || (on && f);
      for (const [, el] of S.views[f].fields) if (r && el.options) {
        const pick = [...el.options].find((o) => o.value.startsWith(r.type + "_"));
        el.selectedIndex = pick ? pick.index : 0;
      }
    }
    if (!S.tabs[S.tab] || S.tabs[S.tab].hidden) select(first, true);
  }

  function select(f, quiet) {
    S.tab = f;
    for (const k in S.tabs) {
      S.tabs[k].setAttribute("aria-selected", k === f);
      S.views[k].panel.hidden = k !== f;
    }
    if (!quiet) autorun(false);
  }

  /** Arrow keys, Home and End move between tabs (Tab reaches each of them too). */
  function tabKeys(e) {
    const keys = Object.keys(S.tabs).filter((k) => !S.tabs[k].hidden);
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
    Object.assign(v, { text: "", shown: "", said: 0, frame: 0, meta: null, result: null });
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

  //=== Results: the `result` event's {kind, data}, as text, never HTML ===

  const cell = (c) => (c == null ? "—" : c.toLocaleString(lang()));
  const head = (c) => (c[0].toUpperCase() + c.slice(1)).replace(/_/g, " ");
  const dl = (pairs) => h("dl", { class: "res" }, pairs.map(([k, x]) => [h("dt", null, k), h("dd", null, x)]));

  function result(v, r) {
    const data = (v.result = r.data || {});
    v.table.replaceChildren(...(r.kind === "table" ? table(data) : r.kind === "triage" ? [triage(data)]
      : [dl(Object.entries(data).map(([k, x]) => [head(k), x && typeof x === "object" ? JSON.stringify(x) : cell(x)]))]));
    v.table.hidden = false;
  }

  function table(r) {
    const rows = r.rows || [];
    return [
      h("div", { class: "tbl", role: "region", tabindex: 0, "aria-label": r.description },
        h("table", null, h("caption", null, r.description),
          h("thead", null, h("tr", null, (r.columns || []).map((c) => h("th", { scope: "col" }, head(c))))),
          h("tbody", null, rows.map((row) => h("tr", null, row.map((c) => h("td", null, cell(c)))))))),
      r.total > rows.length ? h("p", { class: "mut" }, t("showing", { n: rows.length, total: r.total })) : ""];
  }

  /** Category, priority and tags: each value a label, its reason one line of text. */
  function triage(r) {
    const one = (x) => [h("span", { class: "tag" }, String(x.value)), h("div", { class: "mut" }, String(x.reason || ""))];
    return dl([["category", r.category], ["priority", r.priority], ["tags", r.tags]]
      .filter(([, x]) => x && (!x.map || x.length))
      .map(([k, x]) => [t(k), (x.map ? x : [x]).map(one)]));
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
    const chips = (S.reasons[rating] || []).map((c) => button((S.strings.reasons || {})[c.value] || c.label, press, "chip",
      { "aria-pressed": "false", "data-reason": c.value }));
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
        const res = await call("/v1/feedback", body);
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

  /** GET, or POST `body` as JSON; on a 401, ask getToken once more and try again. */
  async function call(path, body, signal, sse, fresh) {
    const s = S;
    const headers = { Authorization: "Bearer " + (await bearer(fresh)), Accept: sse ? "text/event-stream" : "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    const res = await net(s.cfg.server + path, {
      method: body ? "POST" : "GET",
      signal,
      credentials: "omit",
      cache: "no-store",
      headers,
      body: body && JSON.stringify(body),
    });
    return res.status === 401 && !fresh && s.cfg.getToken ? call(path, body, signal, sse, true) : res;
  }

  /** A MarginError from an error response: {status_code, code, detail} and Retry-After. */
  async function httpError(res) {
    const body = await res.json().catch(noop) || {};
    const status = res.status;
    const code = (body.code !== "error" && body.code) || { 401: "unauthorized", 403: "forbidden", 429: "rate_limited" }[status] ||
      (status >= 500 ? "unavailable" : "invalid_request");
    return new MarginError(code, body.detail || res.statusText, +res.headers.get("Retry-After"), status);
  }

  /**
   * Stream one feature request, calling on(type, data) for meta, delta and result events.
   * Resolves with `done`; rejects with a MarginError on `error` or when the stream is cut short.
   */
  async function stream(path, body, signal, on) {
    const res = await call(path, body, signal, true);
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
      const end = await stream(v.d.path || "/v1/" + v.feature, body, ctrl.signal, (type, d) => {
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
        } else if (type === "result") result(v, d);
      });
      if (!live()) return;
      s.delay = 0; // the backend answers: a later outage starts its back-off afresh
      paint(v);
      announce(v, true);
      say(t("done"));
      v.foot.textContent = v.meta.model + " · " + (end.latency_ms / 1000).toFixed(1) + " s";
      v.foot.hidden = false;
      tools(v);
      feedback(v);
      emit("answer", { feature: v.feature, text: v.text, meta: v.meta, done: end, result: v.result });
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
    if (v === S.boot) load();
    else if (v.req) run(v, v.req);
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

  /** Run the open tab's feature if its descriptor says auto_run and it has not run yet. */
  function autorun(force) {
    const v = S.views[S.tab];
    if (v && v.d.auto_run && (force || !v.loaded)) go(v);
  }

  /** Run a feature with `{record?, <input>: value, …}` from the record and the form. */
  function go(v) {
    const d = v.d;
    const body = {};
    if (d.record === "required" && !S.record) {
      reset(v);
      return v.out.append(h("p", { class: "mut" }, t("none")));
    }
    if (d.record !== "none" && S.record) body.record = S.record;
    for (const [i, el] of v.fields) {
      const value = el.value.trim();
      if (value) body[i.name] = value;
      else if (i.required) return el.focus();
    }
    run(v, body);
  }

  /** The descriptor's actions under a finished answer. */
  function tools(v) {
    const a = v.d.actions;
    const cfg = S.cfg;
    v.ok = h("span", { class: "mut" });
    v.tools.replaceChildren(...[
      a.includes("insert") && v.text && (cfg.onInsertDraft || cfg.insertTarget) && button(t("insert"), () => insert(v), "btn pri"),
      a.includes("apply") && v.result && button(t("apply"), () => apply(v), "btn pri"),
      a.includes("copy") && v.text && button(t("copy"), () => copy(v)),
    ].filter(Boolean), v.ok);
    v.tools.hidden = v.tools.children.length < 2;
  }

  function done(v, key) {
    say((v.ok.textContent = t(key)));
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
    done(v, "inserted");
    emit("draft-insert", detail);
  }

  /** Apply: the suggested values, strings only, to the host's onApplyTriage. */
  async function apply(v) {
    const r = v.result;
    const value = (x) => (x ? String(x.value) : null);
    const values = { category: value(r.category), priority: value(r.priority), tags: (r.tags || []).map(value), interactionId: v.meta.interaction_id };
    const detail = { ...values, record: S.record };
    if (!emit("before-triage-apply", detail, true)) return;
    if (S.cfg.onApplyTriage) await S.cfg.onApplyTriage(values);
    done(v, "applied");
    emit("triage-apply", detail);
  }

  async function copy(v) {
    try {
      await navigator.clipboard.writeText(v.text);
      done(v, "copied");
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
    else load();
    emit("mount", { record });
    if (cfg.open) open();
  }

  /** Follow another record (single-page hosts): running requests stop, the panel starts over. @param {MarginRecord|null} record */
  function setRecord(record) {
    const r = validRecord(record);
    if (!S || (r && S.record && r.type === S.record.type && r.id === S.record.id)) return;
    S.record = r;
    for (const v of Object.values(S.views)) {
      S.pending.delete(v);
      stop(v);
      busy(v, false);
      reset(v);
      Object.assign(v, { ctrl: null, req: null, loaded: false });
    }
    showRecord();
    emit("record", { record: r });
    if (S.isOpen) autorun(false);
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
    (s.tabs[s.tab] || s.panel).focus(); // no tabs yet: tabs() moves it
    autorun(false);
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
      fail(S && (S.views[S.tab] || S.boot), e);
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
