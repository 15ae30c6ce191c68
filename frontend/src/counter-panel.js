// The counter panel of the ntnu_library integration: a Home Assistant sidebar panel (Lit).
//
// It talks to the integration over its own websocket commands (ntnu_library/counter/...), so
// nothing typed here (IDs, cards, names) is a recorded service call. The integration decides
// everything; this file shows what it answers and asks it to act. Texts: texts.json (the
// panel's own words, English and Traditional Chinese) and the integration's own translations
// (refusal messages, room statuses), loaded from Home Assistant.
import { LitElement, css, html, nothing } from "lit";
import TEXTS from "./texts.json";

const DOMAIN = "ntnu_library";
const TABS = ["patron", "rooms", "boxes", "add"];

function language(hass) {
  return (hass?.language || "en").toLowerCase().startsWith("zh") ? "zh-Hant" : "en";
}

function fill(text, values = {}) {
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) : "";
}

function barcodes(text) {
  return text
    .split(/[\s,;]+/)
    .map((code) => code.trim())
    .filter(Boolean);
}

class NtnuLibraryCounter extends LitElement {
  static properties = {
    hass: { attribute: false },
    narrow: { type: Boolean },
    panel: { attribute: false },
    route: { attribute: false },
    _tab: { state: true },
    _sites: { state: true },
    _site: { state: true },
    _categories: { state: true },
    _refused: { state: true },
    _query: { state: true },
    _matches: { state: true },
    _patron: { state: true },
    _message: { state: true },
    _busy: { state: true },
    _lent: { state: true },
    _returned: { state: true },
    _scans: { state: true },
    _added: { state: true },
    _unlocking: { state: true },
    _localize: { state: true },
  };

  constructor() {
    super();
    this._tab = "patron";
    this._sites = undefined;
    this._site = undefined;
    this._categories = [];
    this._refused = false;
    this._query = "";
    this._matches = undefined;
    this._patron = undefined;
    this._message = undefined;
    this._busy = false;
    this._lent = undefined;
    this._returned = undefined;
    this._scans = {};
    this._added = undefined;
    this._unlocking = undefined;
    this._localize = undefined;
    this._loading = false;
    this._following = undefined;
    this._onKey = this._onKey.bind(this);
  }

  connectedCallback() {
    super.connectedCallback();
    window.addEventListener("keydown", this._onKey);
  }

  disconnectedCallback() {
    window.removeEventListener("keydown", this._onKey);
    clearTimeout(this._following);
    this._following = undefined;
    super.disconnectedCallback();
  }

  updated(changed) {
    if (!changed.has("hass") || !this.hass) return;
    if (this._sites === undefined && !this._loading) {
      this._load();
    } else if (changed.get("hass") && (this._tab === "rooms" || this._tab === "boxes")) {
      this._followStates();
    }
  }

  // Home Assistant hands the panel a new `hass` at every change of state: while the rooms or
  // the boxes are shown, ask again for them, at most every two seconds.
  _followStates() {
    if (this._following || this._refused) return;
    this._following = setTimeout(async () => {
      await this._refresh();
      this._following = undefined;
    }, 2000);
  }

  // --- words -------------------------------------------------------------------------------

  _t(key, values) {
    const table = TEXTS[language(this.hass)] || TEXTS.en;
    return fill(table[key] ?? TEXTS.en[key] ?? key, values);
  }

  _backend(key, values) {
    const localize = this._localize || this.hass?.localize;
    const text = localize ? localize(`component.${DOMAIN}.${key}`, values || {}) : "";
    return text || "";
  }

  _reason(reason, values) {
    return this._backend(`exceptions.${reason}.message`, values) || reason;
  }

  _error(err) {
    const key = err?.translation_key;
    const text = key ? this._reason(key, err.translation_placeholders) : "";
    return text && text !== key ? text : err?.message || String(err);
  }

  _status(status) {
    if (status === "unavailable") return this._t("unavailable");
    return (
      this._backend(`entity.sensor.status.state.${status}`) ||
      status
    );
  }

  _category(key) {
    const found = this._categories.find((c) => c.key === key);
    return found ? found[language(this.hass)] || found.en : key;
  }

  // --- talking to the integration ----------------------------------------------------------

  async _load() {
    this._loading = true;
    try {
      const [localize] = await Promise.all([
        this.hass.loadBackendTranslation
          ? this.hass.loadBackendTranslation("exceptions", DOMAIN)
          : undefined,
        this.hass.loadBackendTranslation
          ? this.hass.loadBackendTranslation("entity", DOMAIN)
          : undefined,
      ]);
      if (localize) this._localize = localize;
    } catch (err) {
      // The panel's own words still show; refusals fall back to the server's English.
    }
    await this._refresh();
    this._loading = false;
  }

  async _refresh() {
    try {
      const overview = await this.hass.callWS({ type: `${DOMAIN}/counter/overview` });
      this._sites = overview.sites;
      this._categories = overview.categories;
      if (!this._site || !overview.sites.some((s) => s.config_entry_id === this._site)) {
        this._site = overview.sites[0]?.config_entry_id;
      }
      this._refused = false;
    } catch (err) {
      if (err?.code === "unauthorized") {
        this._refused = true;
        this._sites = [];
        this._message = { ok: false, text: this._error(err) };
      } else {
        this._message = { ok: false, text: this._t("failed", { message: this._error(err) }) };
      }
    }
  }

  _call(command, fields = {}) {
    return this.hass.callWS({
      type: `${DOMAIN}/counter/${command}`,
      config_entry_id: this._site,
      ...fields,
    });
  }

  async _act(command, fields, done, { site } = {}) {
    if (this._busy) return undefined;
    this._busy = true;
    let result;
    try {
      result = await this.hass.callWS({
        type: `${DOMAIN}/counter/${command}`,
        config_entry_id: site || this._site,
        ...fields,
      });
      this._message = { ok: true, text: done(result) };
    } catch (err) {
      this._message = { ok: false, text: this._t("failed", { message: this._error(err) }) };
    }
    this._busy = false;
    await Promise.all([this._refresh(), this._reloadPatron()]);
    return result;
  }

  async _reloadPatron() {
    if (!this._patron) return;
    try {
      this._patron = await this._call("patron", { patron_id: this._patron.patron_id });
    } catch (err) {
      this._patron = undefined;
    }
  }

  async _find(event) {
    event?.preventDefault();
    const query = this._query.trim();
    if (!query || this._busy) return;
    this._busy = true;
    this._tab = "patron";
    this._lent = undefined;
    this._returned = undefined;
    try {
      const found = await this._call("find", { query });
      this._matches = found.matches;
      this._patron = found.patron || undefined;
      this._message = found.matches.length
        ? found.patron
          ? undefined
          : { ok: true, text: this._t("several", { query }) }
        : { ok: false, text: this._t("nobody", { query }) };
    } catch (err) {
      this._message = { ok: false, text: this._t("failed", { message: this._error(err) }) };
    }
    this._busy = false;
    this._query = "";
  }

  async _open(patronId) {
    this._tab = "patron";
    this._matches = undefined;
    try {
      this._patron = await this._call("patron", { patron_id: patronId });
      this._message = undefined;
    } catch (err) {
      this._message = { ok: false, text: this._t("failed", { message: this._error(err) }) };
    }
  }

  // --- keyboard ------------------------------------------------------------------------------

  _onKey(event) {
    const inField = ["INPUT", "SELECT", "TEXTAREA"].includes(event.composedPath()[0]?.tagName);
    if (event.key === "/" && !inField) {
      event.preventDefault();
      this._focusSearch();
    } else if (event.altKey && /^[1-4]$/.test(event.key)) {
      event.preventDefault();
      this._show(TABS[Number(event.key) - 1]);
    }
  }

  _show(tab) {
    if (tab !== this._tab) this._message = undefined; // a word about the last tab's work
    this._tab = tab;
  }

  _focusSearch() {
    this.renderRoot?.querySelector("#search")?.focus();
  }

  firstUpdated() {
    this._focusSearch();
  }

  // --- the page ------------------------------------------------------------------------------

  render() {
    if (!this.hass) return nothing;
    const lang = language(this.hass);
    return html`
      <div class="toolbar" lang=${lang}>
        ${this.narrow
          ? html`<ha-menu-button .hass=${this.hass} .narrow=${this.narrow}></ha-menu-button>`
          : nothing}
        <h1>${this._t("title")}</h1>
        ${this._sites && this._sites.length > 1
          ? html`<label class="site"
              >${this._t("site")}
              <select
                .value=${this._site}
                @change=${(e) => {
                  this._site = e.target.value;
                  this._patron = undefined;
                }}
              >
                ${this._sites.map(
                  (s) => html`<option value=${s.config_entry_id}>${s.name}</option>`,
                )}
              </select></label
            >`
          : this._sites?.length
            ? html`<span class="site">${this._sites[0].name}</span>`
            : nothing}
        <form class="search" @submit=${this._find} role="search">
          <input
            id="search"
            type="search"
            autocomplete="off"
            spellcheck="false"
            aria-label=${this._t("search_label")}
            placeholder=${this._t("search_label")}
            .value=${this._query}
            @input=${(e) => (this._query = e.target.value)}
            ?disabled=${this._refused}
          />
          <button type="submit" ?disabled=${this._refused || this._busy}>
            ${this._t("search")}
          </button>
        </form>
      </div>
      ${this._refused ? this._renderRefused() : this._renderMain(lang)}
      ${this._renderUnlock()}
    `;
  }

  _renderRefused() {
    return html`<main class="refused" lang=${language(this.hass)}>
      <h2>${this._t("not_staff")}</h2>
      <p>${this._message?.text}</p>
      <p class="hint">${this._t("not_staff_hint")}</p>
    </main>`;
  }

  _renderMain(lang) {
    if (this._sites === undefined) {
      return html`<main><p class="hint">${this._t("loading")}</p></main>`;
    }
    return html`
      <nav class="tabs" role="tablist">
        ${TABS.map(
          (tab, index) => html`<button
            role="tab"
            id=${`tab-${tab}`}
            aria-selected=${this._tab === tab ? "true" : "false"}
            title=${`Alt+${index + 1}`}
            @click=${() => this._show(tab)}
          >
            ${this._t(`tab_${tab}`)}
          </button>`,
        )}
        <span class="keys">${this._t("keys_hint")}</span>
      </nav>
      <main lang=${lang}>
        ${this._message
          ? html`<p class="message ${this._message.ok ? "ok" : "error"}" role="status">
              ${this._message.text}
            </p>`
          : nothing}
        ${this._tab === "patron"
          ? this._renderPatronTab()
          : this._tab === "rooms"
            ? this._renderRooms()
            : this._tab === "boxes"
              ? this._renderBoxes()
              : this._renderAdd()}
      </main>
    `;
  }

  get _currentSite() {
    return this._sites?.find((s) => s.config_entry_id === this._site);
  }

  // --- one patron ----------------------------------------------------------------------------

  _renderPatronTab() {
    if (this._matches && this._matches.length > 1 && !this._patron) {
      return html`<ul class="matches">
        ${this._matches.map(
          (m) => html`<li>
            <button @click=${() => this._open(m.patron_id)}>
              <strong>${m.patron_id}</strong> ${m.name} · ${this._category(m.category)}
            </button>
          </li>`,
        )}
      </ul>`;
    }
    if (!this._patron) {
      return html`<p class="hint big">${this._t("search_hint")}</p>`;
    }
    const p = this._patron;
    return html`<div class="patron">
      <section class="card who">
        <h2><span class="pid">${p.patron_id}</span> ${p.name}</h2>
        <dl>
          <dt>${this._t("category")}</dt>
          <dd>${this._category(p.category)}</dd>
          <dt>${this._t("membership")}</dt>
          <dd>
            ${p.membership_expires || this._t("membership_none")}
            ${p.expired ? html`<span class="chip bad">${this._t("expired")}</span>` : nothing}
            ${p.suspended ? html`<span class="chip bad">${this._t("suspended")}</span>` : nothing}
          </dd>
          <dt>${this._t("card")}</dt>
          <dd>${p.card ? this._t("card_yes") : this._t("card_no")}</dd>
        </dl>
        ${this._renderFreeze(p)} ${this._renderLogin(p)} ${this._renderMembership(p)}
      </section>
      <div class="column">
        ${this._renderPatronRooms(p)} ${this._renderLoans(p)} ${this._renderLend(p)}
      </div>
    </div>`;
  }

  _renderFreeze(p) {
    return html`<h3>${this._t("freeze_title")}</h3>
      ${p.frozen
        ? html`<p>
              <span class="chip bad">${this._t("frozen_until", { until: when(p.frozen.until) })}</span>
              ${p.frozen.reason
                ? html`<span class="hint">${this._t("frozen_reason", { reason: p.frozen.reason })}</span>`
                : nothing}
            </p>
            <p>
              ${p.checked_in_today
                ? html`<span class="chip good">${this._t("checked_in_today")}</span>`
                : html`<span class="chip">${this._t("not_checked_in")}</span>
                    <button
                      id="check-in"
                      @click=${() =>
                        this._act("check_in", { patron_id: p.patron_id }, () =>
                          this._t("done_check_in", { patron: p.patron_id }),
                        )}
                    >
                      ${this._t("check_in")}
                    </button>`}
              <button
                @click=${() =>
                  this._act("unfreeze", { patron_id: p.patron_id }, () =>
                    this._t("done_unfreeze", { patron: p.patron_id }),
                  )}
              >
                ${this._t("unfreeze")}
              </button>
            </p>`
        : html`<p><span class="chip good">${this._t("not_frozen")}</span></p>`}
      <form
        class="inline"
        @submit=${(e) => {
          e.preventDefault();
          const form = e.target;
          const days = form.days.value.trim();
          this._act(
            "freeze",
            {
              patron_id: p.patron_id,
              reason: form.reason.value,
              ...(days ? { days: Number(days) } : {}),
            },
            (r) => this._t("done_freeze", { patron: p.patron_id, until: when(r.frozen_until) }),
          ).then(() => form.reset());
        }}
      >
        <label
          >${this._t("freeze_days")}
          <input
            name="days"
            type="number"
            min="1"
            step="1"
            placeholder=${this._t("freeze_days_default")}
        /></label>
        <label>${this._t("freeze_reason")} <input name="reason" maxlength="200" /></label>
        <button type="submit">${this._t("freeze")}</button>
      </form>`;
  }

  _renderLogin(p) {
    const { failures, wait_seconds: wait } = p.login;
    return html`<h3>${this._t("login_title")}</h3>
      <p>
        ${failures
          ? html`<span class="chip ${wait ? "bad" : ""}"
              >${this._t("login_failures", { count: failures })}</span
            >`
          : html`<span class="chip good">${this._t("login_ok")}</span>`}
        ${wait
          ? html`<span class="chip bad">${this._t("login_locked", { seconds: wait })}</span>`
          : nothing}
        ${failures
          ? html`<button
              @click=${() =>
                this._act("clear_login_lock", { patron_id: p.patron_id }, (r) =>
                  this._t(r.cleared ? "done_clear_lock" : "done_clear_nothing", {
                    patron: p.patron_id,
                  }),
                )}
            >
              ${this._t("clear_lock")}
            </button>`
          : nothing}
      </p>`;
  }

  _renderMembership(p) {
    return html`<h3>${this._t("membership_title")}</h3>
      <form
        class="inline"
        @submit=${(e) => {
          e.preventDefault();
          const until = e.target.until.value;
          this._act(
            "extend_membership",
            { patron_id: p.patron_id, ...(until ? { until } : {}) },
            (r) =>
              this._t("done_extend", {
                patron: p.patron_id,
                until: r.membership_expires || this._t("membership_none"),
              }),
          );
        }}
      >
        <label>${this._t("extend_until")} <input name="until" type="date" /></label>
        <button type="submit">${this._t("extend_button")}</button>
      </form>
      ${p.suspended
        ? html`<p>
            <button
              @click=${() =>
                this._act("reactivate_membership", { patron_id: p.patron_id }, () =>
                  this._t("done_reactivate", { patron: p.patron_id }),
                )}
            >
              ${this._t("reactivate")}
            </button>
          </p>`
        : nothing}`;
  }

  _renderPatronRooms(p) {
    const site = this._currentSite;
    const longTerm = (site?.rooms || []).filter((r) => r.kind === "long_term");
    return html`<section class="card">
      <h3>${this._t("rooms_held")}</h3>
      ${p.rooms.length
        ? html`<ul class="plain">
            ${p.rooms.map(
              (r) => html`<li>
                <strong class="room-id">${r.room}</strong>
                <span class="hint">${r.site} · ${this._t(`kind_${r.kind}`)}</span>
                ${r.since ? html`<span class="hint">${this._t("since")} ${when(r.since)}</span>` : nothing}
                ${r.kind === "temporary"
                  ? html`<button
                      class="return"
                      @click=${() =>
                        this._act(
                          "return_room",
                          { room: r.room },
                          () => this._t("done_return", { room: r.room }),
                          { site: r.config_entry_id },
                        )}
                    >
                      ${this._t("return_room")}
                    </button>`
                  : nothing}
              </li>`,
            )}
          </ul>`
        : html`<p class="hint">${this._t("no_room")}</p>`}
      <h3>${this._t("reservations")}</h3>
      ${p.reservations.length
        ? html`<ul class="plain">
            ${p.reservations.map(
              (r) => html`<li>
                <strong>${r.room}</strong> ${r.month} <span class="hint">${r.site}</span>
                <button
                  @click=${() =>
                    this._act(
                      "cancel_reservation",
                      { room: r.room, month: r.month },
                      () => this._t("done_cancel", { room: r.room, month: r.month }),
                      { site: r.config_entry_id },
                    )}
                >
                  ${this._t("cancel_reservation")}
                </button>
              </li>`,
            )}
          </ul>`
        : html`<p class="hint">${this._t("no_reservations")}</p>`}
      ${longTerm.length
        ? html`<form
            class="inline"
            @submit=${(e) => {
              e.preventDefault();
              const { room, month } = e.target;
              this._act(
                "reserve",
                { patron_id: p.patron_id, room: room.value, month: month.value },
                () =>
                  this._t("done_reserve", {
                    room: room.value,
                    month: month.value,
                    patron: p.patron_id,
                  }),
              );
            }}
          >
            <label
              >${this._t("room")}
              <select name="room">
                ${longTerm.map(
                  (r) => html`<option value=${r.room}>${r.room} · ${this._status(r.status)}</option>`,
                )}
              </select></label
            >
            <label
              >${this._t("month")}
              <select name="month">
                ${site.months.map((m) => html`<option value=${m}>${m}</option>`)}
              </select></label
            >
            <button type="submit">${this._t("reserve")}</button>
          </form>`
        : nothing}
    </section>`;
  }

  _renderLoans(p) {
    const boxes = Object.fromEntries(p.in_boxes.map((b) => [b.barcode, b.box]));
    return html`<section class="card">
      <h3>${this._t("loans")}</h3>
      <p class="hint">
        ${this._t("loans_count", {
          count: p.loans.length,
          limit: p.item_limit,
          period: p.loan_period[language(this.hass)] || p.loan_period.en,
        })}
      </p>
      ${p.loans.length
        ? html`<table class="loans">
            <thead>
              <tr>
                <th>${this._t("barcode")}</th>
                <th>${this._t("title_col")}</th>
                <th>${this._t("due")}</th>
              </tr>
            </thead>
            <tbody>
              ${p.loans.map(
                (l) => html`<tr>
                  <td class="code">${l.barcode}</td>
                  <td>${l.title}</td>
                  <td>
                    ${l.due}
                    ${l.overdue ? html`<span class="chip bad">${this._t("overdue")}</span>` : nothing}
                    ${boxes[l.barcode]
                      ? html`<span class="chip">${this._t("in_box", { box: boxes[l.barcode] })}</span>`
                      : nothing}
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="hint">${this._t("no_loans")}</p>`}
    </section>`;
  }

  _renderLend(p) {
    return html`<section class="card lend">
      <form
        class="inline"
        @submit=${async (e) => {
          e.preventDefault();
          const input = e.target.items;
          const items = barcodes(input.value);
          if (!items.length) return;
          const result = await this._act("lend", { patron_id: p.patron_id, items }, (r) =>
            this._t("done_lend", { count: r.receipt.length, patron: p.patron_id }),
          );
          this._lent = result;
          if (result) input.value = "";
        }}
      >
        <label
          >${this._t("lend")}
          <input
            id="lend-items"
            name="items"
            autocomplete="off"
            placeholder=${this._t("items_hint")}
        /></label>
        <button type="submit">${this._t("lend_button")}</button>
      </form>
      ${this._lent ? this._renderReceipt(this._lent) : nothing}
      <form
        class="inline"
        @submit=${async (e) => {
          e.preventDefault();
          const input = e.target.items;
          const items = barcodes(input.value);
          if (!items.length) return;
          const result = await this._act("check_in_items", { items }, (r) =>
            this._t("done_check_in_items", { count: r.checked_in.length }),
          );
          this._returned = result;
          if (result) input.value = "";
        }}
      >
        <label
          >${this._t("check_in_items")}
          <input
            id="return-items"
            name="items"
            autocomplete="off"
            placeholder=${this._t("items_hint")}
        /></label>
        <button type="submit">${this._t("check_in_button")}</button>
      </form>
      ${this._returned ? this._renderCheckin(this._returned) : nothing}
    </section>`;
  }

  _renderReceipt(result) {
    return html`<ul class="plain result">
      ${result.receipt.map(
        (line) => html`<li>
          <span class="chip good">${this._t("receipt")}</span>
          <span class="code">${line.barcode}</span> ${line.title} · ${this._t("due")} ${line.due}
        </li>`,
      )}
      ${result.refused.map(
        (item) => html`<li>
          <span class="chip bad">${this._t("refused")}</span>
          <span class="code">${item.barcode}</span> ${this._reason(item.reason)}
        </li>`,
      )}
    </ul>`;
  }

  _renderCheckin(result) {
    return html`<ul class="plain result">
      ${result.checked_in.map(
        (code) => html`<li>
          <span class="chip good">${this._t("scan_checked_in")}</span>
          <span class="code">${code}</span>
        </li>`,
      )}
      ${result.refused.map(
        (item) => html`<li>
          <span class="chip bad">${this._t("refused")}</span>
          <span class="code">${item.barcode}</span> ${this._reason(item.reason)}
        </li>`,
      )}
    </ul>`;
  }

  // --- the site's rooms ------------------------------------------------------------------------

  _renderRooms() {
    const site = this._currentSite;
    if (!site) return nothing;
    return html`<section class="card">
      <table class="rooms">
        <thead>
          <tr>
            <th>${this._t("room")}</th>
            <th>${this._t("status")}</th>
            <th>${this._t("holder")}</th>
            <th>${this._t("since")}</th>
            <th>${this._t("lock")}</th>
            <th>${this._t("actions")}</th>
          </tr>
        </thead>
        <tbody>
          ${site.rooms.map(
            (r) => html`<tr data-room=${r.room}>
              <td>
                <strong class="room-id">${r.room}</strong>
                <span class="hint">${r.name} · ${this._t(`kind_${r.kind}`)}${r.floor ? ` · ${r.floor}` : ""}</span>
              </td>
              <td><span class="status ${r.status}">${this._status(r.status)}</span></td>
              <td>
                ${r.holder
                  ? html`<button class="link" @click=${() => this._open(r.holder)}>
                      ${r.holder}${r.holder_name ? ` ${r.holder_name}` : ""}
                    </button>`
                  : nothing}
              </td>
              <td>${when(r.since)}</td>
              <td>
                ${this._t(r.lock === "unknown" ? "lock_unknown" : r.lock)}
                ${r.jammed ? html`<span class="chip bad">${this._t("jammed")}</span>` : nothing}
              </td>
              <td class="actions">
                ${r.kind === "temporary" && r.status === "in_use"
                  ? html`<button
                      class="return"
                      @click=${() =>
                        this._act("return_room", { room: r.room }, () =>
                          this._t("done_return", { room: r.room }),
                        )}
                    >
                      ${this._t("return_room")}
                    </button>`
                  : nothing}
                <button class="unlock" @click=${() => this._askUnlock(r.room)}>
                  ${this._t("unlock")}
                </button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  }

  _askUnlock(room) {
    this._unlocking = room;
    this.updateComplete.then(() => {
      const dialog = this.renderRoot.querySelector("dialog");
      if (dialog && !dialog.open) dialog.showModal();
      dialog?.querySelector(".cancel")?.focus();
    });
  }

  _closeUnlock() {
    this.renderRoot.querySelector("dialog")?.close();
    this._unlocking = undefined;
  }

  _renderUnlock() {
    const room = this._unlocking;
    return html`<dialog @close=${() => (this._unlocking = undefined)} lang=${language(this.hass)}>
      ${room
        ? html`<h2>${this._t("unlock_title", { room })}</h2>
            <p>${this._t("unlock_text")}</p>
            <div class="buttons">
              <button class="cancel" @click=${() => this._closeUnlock()}>${this._t("cancel")}</button>
              <button
                class="danger confirm"
                @click=${() => {
                  this._closeUnlock();
                  this._act("unlock", { room, confirmed: true }, () =>
                    this._t("done_unlock", { room }),
                  );
                }}
              >
                ${this._t("unlock_confirm")}
              </button>
            </div>`
        : nothing}
    </dialog>`;
  }

  // --- return boxes ------------------------------------------------------------------------

  _renderBoxes() {
    const site = this._currentSite;
    if (!site) return nothing;
    if (!site.boxes.length) return html`<p class="hint">${this._t("no_boxes")}</p>`;
    return html`<div class="boxes">
      ${site.boxes.map((b) => {
        const scan = this._scans[b.box];
        return html`<section class="card box" data-box=${b.box}>
          <h3>${this._t("box_title", { box: b.box })}</h3>
          <h4>${this._t("box_waiting", { count: b.waiting.length })}</h4>
          ${b.waiting.length
            ? html`<table>
                <tbody>
                  ${b.waiting.map(
                    (w) => html`<tr>
                      <td class="code">${w.barcode}</td>
                      <td>${w.title}</td>
                      <td>
                        <button class="link" @click=${() => this._open(w.patron_id)}>
                          ${w.patron_id}
                        </button>
                      </td>
                      <td>${when(w.dropped_at)}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>`
            : html`<p class="hint">${this._t("box_empty")}</p>`}
          <h4>${this._t("box_findings", { count: b.findings.length })}</h4>
          ${b.findings.length
            ? html`<ul class="plain findings">
                ${b.findings.map(
                  (f) => html`<li>
                    <span class="code">${f.barcode}</span> ${this._reason(f.reason)}
                  </li>`,
                )}
              </ul>`
            : html`<p class="hint">${this._t("no_findings")}</p>`}
          <button
            class="scan"
            @click=${async () => {
              const result = await this._act("scan_back", { box: b.box }, (r) =>
                this._t("scan_result", { box: b.box, count: r.checked_in.length }),
              );
              if (result) this._scans = { ...this._scans, [b.box]: result };
            }}
          >
            ${this._t("scan_back", { box: b.box })}
          </button>
          ${scan
            ? html`<ul class="plain result scan-result">
                ${scan.checked_in.map(
                  (code) => html`<li>
                    <span class="chip good">${this._t("scan_checked_in")}</span>
                    <span class="code">${code}</span>
                  </li>`,
                )}
                ${scan.flagged.map(
                  (f) => html`<li>
                    <span class="chip bad">${this._t("scan_flagged")}</span>
                    <span class="code">${f.barcode}</span> ${this._reason(f.reason)}
                  </li>`,
                )}
              </ul>`
            : nothing}
        </section>`;
      })}
    </div>`;
  }

  // --- a new patron ----------------------------------------------------------------------------

  _renderAdd() {
    const site = this._currentSite;
    if (this._added) {
      const a = this._added;
      return html`<section class="card code-card">
        <h3>${this._t("code_title", { patron: a.patron_id })}</h3>
        <p class="activation-code">${a.activation_code}</p>
        <p>${this._t("code_once", { until: when(a.activation_expires) })}</p>
        <button id="code-done" @click=${() => (this._added = undefined)}>${this._t("done")}</button>
      </section>`;
    }
    if (site && !site.local_directory) {
      return html`<p class="hint">${this._t("directory_elsewhere")}</p>`;
    }
    const lang = language(this.hass);
    const categories = [...this._categories].sort((a, b) =>
      (a[lang] || a.en).localeCompare(b[lang] || b.en, lang),
    );
    return html`<section class="card">
      <h3>${this._t("add_title")}</h3>
      <form
        class="grid"
        @submit=${async (e) => {
          e.preventDefault();
          const f = e.target;
          const fields = {
            patron_id: f.patron_id.value.trim(),
            name: f.name.value.trim(),
            category: f.category.value,
          };
          if (f.card.value.trim()) fields.card = f.card.value.trim();
          if (f.expires.value) fields.membership_expires = f.expires.value;
          const result = await this._act("add_patron", fields, () =>
            this._t("added", { patron: fields.patron_id }),
          );
          if (result) {
            this._added = { ...result, patron_id: fields.patron_id };
            f.reset();
          }
        }}
      >
        <label>${this._t("patron_id")} <input name="patron_id" required maxlength="32" /></label>
        <label>${this._t("name")} <input name="name" required maxlength="200" /></label>
        <label
          >${this._t("category")}
          <select name="category" required>
            <option value="">${this._t("choose")}</option>
            ${categories.map((c) => html`<option value=${c.key}>${c[lang] || c.en}</option>`)}
          </select></label
        >
        <label>${this._t("add_card")} <input name="card" autocomplete="off" maxlength="64" /></label>
        <label>${this._t("add_expires")} <input name="expires" type="date" /></label>
        <div><button type="submit">${this._t("add_button")}</button></div>
      </form>
    </section>`;
  }

  static styles = css`
    :host {
      display: block;
      min-height: 100vh;
      background: var(--primary-background-color, #fafafa);
      color: var(--primary-text-color, #212121);
      font-family: var(--paper-font-body1_-_font-family, Roboto, "Noto Sans TC", sans-serif);
      font-size: 14px;
    }
    .toolbar {
      display: flex;
      align-items: center;
      gap: 16px;
      height: 56px;
      padding: 0 16px;
      background: var(--app-header-background-color, var(--primary-color, #03a9f4));
      color: var(--app-header-text-color, #fff);
    }
    h1 {
      font-size: 20px;
      font-weight: 400;
      margin: 0;
      white-space: nowrap;
    }
    .site {
      white-space: nowrap;
    }
    .search {
      display: flex;
      gap: 8px;
      margin-left: auto;
      flex: 0 1 460px;
    }
    .search input {
      flex: 1;
      min-width: 0;
      font-size: 16px;
      padding: 6px 10px;
      border-radius: 4px;
      border: none;
    }
    .tabs {
      display: flex;
      gap: 4px;
      padding: 0 16px;
      border-bottom: 1px solid var(--divider-color, #e0e0e0);
      background: var(--card-background-color, #fff);
      align-items: center;
    }
    .tabs button {
      border: none;
      background: none;
      padding: 12px 16px;
      font-size: 14px;
      color: var(--secondary-text-color, #616161);
      border-bottom: 2px solid transparent;
      border-radius: 0;
    }
    .tabs button[aria-selected="true"] {
      color: var(--primary-color, #03a9f4);
      border-bottom-color: var(--primary-color, #03a9f4);
    }
    .keys {
      margin-left: auto;
      color: var(--secondary-text-color, #757575);
      font-size: 12px;
    }
    main {
      padding: 16px;
      max-width: 1400px;
    }
    .card {
      background: var(--card-background-color, #fff);
      border-radius: var(--ha-card-border-radius, 12px);
      border: 1px solid var(--divider-color, #e0e0e0);
      padding: 12px 16px;
      margin-bottom: 12px;
    }
    .patron {
      display: grid;
      grid-template-columns: minmax(320px, 2fr) 3fr;
      gap: 12px;
      align-items: start;
    }
    .who h2 {
      margin: 0 0 8px;
      font-size: 22px;
    }
    .pid {
      font-family: monospace;
      color: var(--primary-color, #03a9f4);
    }
    dl {
      display: grid;
      grid-template-columns: max-content 1fr;
      gap: 4px 12px;
      margin: 0;
    }
    dt {
      color: var(--secondary-text-color, #757575);
    }
    dd {
      margin: 0;
    }
    h3 {
      font-size: 15px;
      margin: 12px 0 6px;
    }
    h4 {
      font-size: 13px;
      margin: 10px 0 4px;
      color: var(--secondary-text-color, #616161);
    }
    .chip {
      display: inline-block;
      padding: 1px 8px;
      border-radius: 10px;
      background: var(--secondary-background-color, #eee);
      font-size: 12px;
      margin-right: 4px;
    }
    .chip.good {
      background: rgba(67, 160, 71, 0.15);
      color: var(--success-color, #2e7d32);
    }
    .chip.bad {
      background: rgba(219, 68, 55, 0.12);
      color: var(--error-color, #c62828);
    }
    .hint {
      color: var(--secondary-text-color, #757575);
    }
    .hint.big {
      font-size: 16px;
      margin: 32px 0;
    }
    .message {
      padding: 8px 12px;
      border-radius: 8px;
      margin: 0 0 12px;
    }
    .message.ok {
      background: rgba(67, 160, 71, 0.12);
    }
    .message.error {
      background: rgba(219, 68, 55, 0.12);
      color: var(--error-color, #c62828);
    }
    button {
      font: inherit;
      padding: 6px 12px;
      border-radius: 6px;
      border: 1px solid var(--divider-color, #bdbdbd);
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
      cursor: pointer;
    }
    button:focus-visible,
    input:focus-visible,
    select:focus-visible {
      outline: 2px solid var(--primary-color, #03a9f4);
      outline-offset: 1px;
    }
    button[type="submit"],
    button.return,
    button.scan,
    button.confirm {
      background: var(--primary-color, #03a9f4);
      border-color: var(--primary-color, #03a9f4);
      color: var(--text-primary-color, #fff);
    }
    button.danger {
      background: var(--error-color, #c62828);
      border-color: var(--error-color, #c62828);
    }
    button.link {
      border: none;
      background: none;
      padding: 0;
      color: var(--primary-color, #03a9f4);
      text-decoration: underline;
    }
    button:disabled {
      opacity: 0.5;
      cursor: default;
    }
    .toolbar button[type="submit"] {
      background: var(--card-background-color, #fff);
      color: var(--primary-color, #03a9f4);
      border: none;
    }
    form.inline {
      display: flex;
      flex-wrap: wrap;
      gap: 8px;
      align-items: end;
      margin: 6px 0;
    }
    form.inline label,
    form.grid label {
      display: flex;
      flex-direction: column;
      gap: 2px;
      font-size: 12px;
      color: var(--secondary-text-color, #616161);
    }
    form.grid {
      display: grid;
      grid-template-columns: repeat(3, minmax(200px, 1fr));
      gap: 12px;
      align-items: end;
    }
    input,
    select {
      font: inherit;
      font-size: 14px;
      padding: 5px 8px;
      border: 1px solid var(--divider-color, #bdbdbd);
      border-radius: 4px;
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
    }
    #lend-items,
    #return-items {
      width: 320px;
    }
    table {
      border-collapse: collapse;
      width: 100%;
    }
    th,
    td {
      text-align: left;
      padding: 6px 8px;
      border-bottom: 1px solid var(--divider-color, #eee);
      vertical-align: middle;
    }
    th {
      font-weight: 500;
      color: var(--secondary-text-color, #616161);
      font-size: 12px;
    }
    td.actions {
      white-space: nowrap;
      display: flex;
      gap: 6px;
    }
    .rooms .hint {
      display: block;
      font-size: 12px;
    }
    .status.in_use {
      color: var(--warning-color, #ef6c00);
      font-weight: 500;
    }
    .status.reserved {
      color: var(--primary-color, #03a9f4);
    }
    .status.unavailable {
      color: var(--error-color, #c62828);
    }
    .code {
      font-family: monospace;
    }
    ul.plain {
      list-style: none;
      padding: 0;
      margin: 4px 0;
    }
    ul.plain li {
      padding: 4px 0;
      display: flex;
      gap: 8px;
      align-items: center;
      flex-wrap: wrap;
    }
    .matches {
      list-style: none;
      padding: 0;
    }
    .matches button {
      margin: 4px 0;
      width: 100%;
      text-align: left;
    }
    .boxes {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
      gap: 12px;
    }
    .activation-code {
      font-family: monospace;
      font-size: 28px;
      letter-spacing: 2px;
      margin: 8px 0;
    }
    .refused {
      padding: 32px 16px;
    }
    dialog {
      border: none;
      border-radius: 12px;
      padding: 20px 24px;
      max-width: 440px;
      background: var(--card-background-color, #fff);
      color: var(--primary-text-color, #212121);
    }
    dialog::backdrop {
      background: rgba(0, 0, 0, 0.4);
    }
    dialog h2 {
      font-size: 18px;
      margin: 0 0 8px;
    }
    .buttons {
      display: flex;
      justify-content: flex-end;
      gap: 8px;
      margin-top: 16px;
    }
    @media (max-width: 900px) {
      .patron {
        grid-template-columns: 1fr;
      }
      form.grid {
        grid-template-columns: 1fr;
      }
      .keys {
        display: none;
      }
    }
  `;
}

// A second copy of the module (a new build while a tab is open) must not define it twice.
if (!customElements.get("ntnu-library-counter")) {
  customElements.define("ntnu-library-counter", NtnuLibraryCounter);
}
