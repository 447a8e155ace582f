// What every sandbox web page shares (served at /sandbox/shared/common.js, loaded before
// the page's own app.js): the control API client, the toast, and "act, then refresh".
// Each page defines its own refresh().
"use strict";

const API = "/sandbox/api";

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(API + path, options);
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.detail || response.statusText);
  }
  return data;
}

function toast(text, alert = false) {
  const box = $("toast");
  box.textContent = text;
  box.className = alert ? "alert" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, alert ? toast.alertMs : 3000);
}
toast.alertMs = 3000; // a page whose alerts carry more to read keeps them up longer

async function attempt(action, done) {
  try {
    await action();
    if (done) toast(done);
    await refresh();
  } catch (error) {
    toast(error.message, true);
  }
}
