// The sandbox X's web page: act as any account to post, reply, quote, repost, like and
// follow. Everything goes through the control API (/sandbox/api/...); the page polls it.
"use strict";
// API, $, api, toast and attempt come from /sandbox/shared/common.js.

let world = { accounts: [], posts: [], apps: [], streams: [] };
let lastRendered = "";

const me = () => $("account-select").value;
const handle = (id) => {
  const account = world.accounts.find((a) => a.id === id);
  return account ? "@" + account.username : id;
};

function option(account) {
  const item = document.createElement("option");
  item.value = account.id;
  item.textContent = `@${account.username} (${account.name})`;
  return item;
}

function renderAccounts() {
  for (const id of ["account-select", "follow-select"]) {
    const select = $(id);
    const chosen = select.value;
    select.replaceChildren(...world.accounts.map(option));
    if (chosen) select.value = chosen;
  }
  $("accounts").replaceChildren(...world.accounts.map((a) => {
    const item = document.createElement("li");
    const m = a.public_metrics;
    item.textContent = `@${a.username} · ${m.followers_count} followers · ${m.following_count} following · ${m.post_count} posts`;
    return item;
  }));
  $("apps").textContent = `apps: ${world.apps.join(", ") || "none"} · open streams: ${world.streams.join(", ") || "none"}`;
}

function postButton(label, action) {
  const button = document.createElement("button");
  button.textContent = label;
  button.addEventListener("click", action);
  return button;
}

function renderPosts() {
  $("posts").replaceChildren(...world.posts.map((post) => {
    const item = document.createElement("li");
    const meta = document.createElement("div");
    meta.className = "meta";
    const refs = (post.referenced_tweets || []).map((r) => `${r.type} ${r.id}`).join(", ");
    const media = (post.attachments || {}).media_keys || [];
    meta.textContent = `${handle(post.author_id)} · ${post.created_at} · id ${post.id}${refs ? " · " + refs : ""}${media.length ? ` · ${media.length} media` : ""}`;
    const text = document.createElement("div");
    text.textContent = post.text;
    const m = post.public_metrics;
    const metrics = document.createElement("div");
    metrics.className = "metrics";
    metrics.textContent = `${m.reply_count} replies · ${m.retweet_count} reposts · ${m.quote_count} quotes · ${m.like_count} likes`;
    const actions = document.createElement("div");
    actions.append(
      postButton("Reply", () => {
        const reply = prompt("Reply text");
        if (reply) attempt(() => api("/posts", { author: me(), text: reply, reply_to: post.id }));
      }),
      postButton("Quote", () => {
        const quote = prompt("Quote text");
        if (quote) attempt(() => api("/posts", { author: me(), text: quote, quote_of: post.id }));
      }),
      postButton("Repost", () => attempt(() => api("/reposts", { account: me(), post_id: post.id }))),
      postButton("Like", () => attempt(() => api("/likes", { account: me(), post_id: post.id }))),
    );
    item.append(meta, text, metrics, actions);
    return item;
  }));
}

async function refresh() {
  try {
    world = await api("/state");
  } catch (error) {
    $("status").textContent = "sandbox unreachable";
    return;
  }
  $("status").textContent = `${world.accounts.length} accounts, ${world.posts.length} posts`;
  const rendered = JSON.stringify(world);
  if (rendered === lastRendered) return;
  lastRendered = rendered;
  renderAccounts();
  renderPosts();
}

$("account-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  attempt(async () => {
    const account = await api("/accounts", { username: form.get("username"), name: form.get("name") });
    await refresh();
    $("account-select").value = account.id;
    event.target.reset();
  });
});

$("post-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const url = form.get("media_url");
  const body = { author: me(), text: form.get("text") };
  if (url) body.media = [{ type: "photo", url }];
  attempt(() => api("/posts", body).then(() => event.target.reset()), "Posted");
});

$("follow-form").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(() => api("/follows", { account: me(), target: $("follow-select").value }), "Followed");
});

$("app-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = new FormData(event.target).get("bearer_token");
  attempt(() => api("/apps", { bearer_token: token }).then(() => event.target.reset()), "App registered");
});

$("disconnect").addEventListener("click", () => attempt(() => api("/streams/disconnect", {}), "Streams disconnected"));

refresh();
setInterval(refresh, 1500);
