// telesip Mini App: fetches server-rendered HTML fragments and swaps them in.
// Every request carries Telegram's initData (Authorization: tma ...); the server checks it each
// time and decides everything. initData comes from Telegram.WebApp when its script is there,
// else from the URL fragment (#tgWebAppData=...), as Telegram passes it to every Mini App.
"use strict";
(function () {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const webApp = () => (window.Telegram && window.Telegram.WebApp) || null;
  const initData = () => (webApp() && webApp().initData) || fragment.get("tgWebAppData") || "";
  const $ = (selector) => document.querySelector(selector);
  const state = { q: "", sort: "id", dir: "asc", page: 0, selected: new Set() };

  function applyTheme(params) {
    for (const [key, value] of Object.entries(params || {})) {
      if (/^[a-z_]+$/.test(key) && /^#[0-9a-fA-F]{3,8}$/.test(String(value))) {
        document.documentElement.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
      }
    }
  }

  function fromFragment(name) {
    try { return JSON.parse(fragment.get(name) || "{}"); } catch (e) { return {}; }
  }

  function notify(text, isError) {
    const box = $("#notice");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = !text;
  }

  // fetch a path relative to the page; an HTML answer is returned even with 422/412 (a form
  // with its errors), a problem answer is shown and thrown
  async function call(path, body) {
    const options = { headers: { Authorization: "tma " + initData() } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const type = response.headers.get("Content-Type") || "";
    if (response.ok || type.startsWith("text/html")) return response;
    let detail = response.status + " " + response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    notify(detail, true);
    if (response.status === 401) $("#app").innerHTML = "";
    throw new Error(detail);
  }

  async function loadTable() {
    const query = new URLSearchParams({ q: state.q, sort: state.sort, dir: state.dir, page: state.page });
    const response = await call("table?" + query);
    $("#table").innerHTML = await response.text();
    for (const box of document.querySelectorAll("input[name=id]")) {
      box.checked = state.selected.has(Number(box.value));
    }
    syncSelection();
  }

  function syncSelection() {
    const boxes = [...document.querySelectorAll("input[name=id]")];
    const all = $("#select-page");
    if (all) all.checked = boxes.length > 0 && boxes.every((b) => b.checked);
    $("#selected-count").textContent = $("#bulk").dataset.selected.replace("{count}", state.selected.size);
    for (const button of document.querySelectorAll("[data-bulk]")) button.disabled = state.selected.size === 0;
  }

  async function download(path, body, name) {
    const response = await call(path, body);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  async function bulk(action) {
    const ids = [...state.selected];
    if (action === "export") return download("export", { ids }, "accounts.csv");
    if (action === "sheet") {  // new links, printed: the accounts leave the table for /links
      await download("sheet", { ids }, "links.pdf");
      state.selected.clear();
      return loadTable();
    }
    const response = await call("bulk", { action, ids });
    const result = $("#result");
    result.innerHTML = await response.text();
    result.hidden = false;
    if (action === "links") state.selected.clear();  // they left the table for /links
    await loadTable();
  }

  async function showUnused() {
    const response = await call("unused");
    const result = $("#result");
    result.innerHTML = await response.text();
    result.hidden = false;
  }

  async function openSettings(id) {
    const response = await call("accounts/" + id + "/settings");
    showDetail(await response.text());
  }

  function showDetail(html) {
    $("#detail").innerHTML = html;
    $("#detail").hidden = false;
    $("#list").hidden = true;
    const bad = $("#detail [aria-invalid=true]");
    if (bad) bad.focus();
    const tg = webApp();
    if (tg && tg.BackButton) tg.BackButton.show();
  }

  function showList() {
    $("#detail").hidden = true;
    $("#detail").innerHTML = "";
    $("#list").hidden = false;
    const tg = webApp();
    if (tg && tg.BackButton) tg.BackButton.hide();
    loadTable().catch(() => {});
  }

  async function saveSettings(formElement) {
    const body = {};
    for (const element of formElement.elements) {
      if (!element.name) continue;
      body[element.name] = element.type === "checkbox" ? element.checked : element.value;
    }
    const response = await call("accounts/" + formElement.dataset.account + "/settings", body);
    showDetail(await response.text());
  }

  let searchTimer = 0;
  document.addEventListener("input", (event) => {
    if (event.target.id !== "q") return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.q = event.target.value;
      state.page = 0;
      loadTable().catch(() => {});
    }, 200);
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.name === "id") {
      if (target.checked) state.selected.add(Number(target.value));
      else state.selected.delete(Number(target.value));
      syncSelection();
    } else if (target.id === "select-page") {
      for (const box of document.querySelectorAll("input[name=id]")) {
        box.checked = target.checked;
        if (target.checked) state.selected.add(Number(box.value));
        else state.selected.delete(Number(box.value));
      }
      syncSelection();
    } else if (target.id === "sort") {
      state.sort = target.value;
      state.dir = "asc";
      loadTable().catch(() => {});
    }
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const run = (promise) => promise.catch(() => {});
    if (button.dataset.sort) {
      state.dir = state.sort === button.dataset.sort && state.dir === "asc" ? "desc" : "asc";
      state.sort = button.dataset.sort;
      $("#sort").value = state.sort;
      run(loadTable());
    } else if (button.dataset.page) {
      state.page = Number(button.dataset.page);
      run(loadTable());
    } else if (button.dataset.bulk) {
      notify("", false);
      run(bulk(button.dataset.bulk));
    } else if (button.hasAttribute("data-unused")) {
      notify("", false);
      run(showUnused());
    } else if (button.dataset.udisable) {
      notify("", false);
      run(call("bulk", { action: "disable", ids: [Number(button.dataset.udisable)] })
        .then(showUnused).then(loadTable));
    } else if (button.dataset.open) {
      notify("", false);
      run(openSettings(button.dataset.open));
    } else if (button.hasAttribute("data-back")) {
      showList();
    }
  });

  document.addEventListener("submit", (event) => {
    if (event.target.id !== "settings") return;
    event.preventDefault();
    notify("", false);
    saveSettings(event.target).catch(() => {});
  });

  async function start() {
    applyTheme(fromFragment("tgWebAppThemeParams"));
    if (!initData()) {
      notify("Open this page from the bot in Telegram.", true);
      return;
    }
    const response = await call("app");
    $("#app").innerHTML = await response.text();
    $("#app").setAttribute("aria-busy", "false");
    document.documentElement.lang = $("#list").dataset.lang;
    syncSelection();
  }

  // Telegram's script loads on its own (async); when it is there, use its theme and buttons
  window.addEventListener("load", () => {
    const tg = webApp();
    if (!tg) return;
    applyTheme(tg.themeParams);
    if (tg.onEvent) {
      tg.onEvent("themeChanged", () => applyTheme(tg.themeParams));
      tg.onEvent("backButtonClicked", showList);
    }
    if (tg.ready) tg.ready();
    if (tg.expand) tg.expand();
  });

  start().catch(() => {});
})();
