// The sandbox's web page: act as a Telegram user chatting with a bot, privately or in a
// group. Everything goes through the control API (/sandbox/api/...); the page polls it.
"use strict";
// API, $, api, toast and attempt come from /sandbox/shared/common.js.

const view = { userId: null, botId: null, groupId: null, tab: "private", lastRendered: "" };
let world = { bots: [], users: [], groups: [] };

toast.alertMs = 6000; // a bot's show_alert answers need time to read

// ---- pickers ------------------------------------------------------------------------------
function label(user) {
  return user.first_name + (user.username ? " @" + user.username : "") + " (" + user.id + ")";
}

function fill(select, items, current, text) {
  const value = current === null ? "" : String(current);
  select.replaceChildren(...items.map((item) => new Option(text(item), item.id)));
  if (items.some((item) => String(item.id) === value)) {
    select.value = value;
  }
  return items.length ? Number(select.value) : null;
}

async function refresh() {
  world = await api("/state");
  view.userId = fill($("user-select"), world.users, view.userId, label);
  view.botId = fill($("bot-select"), world.bots, view.botId, label);
  view.groupId = fill($("group-select"), world.groups, view.groupId, (g) => g.title + " (" + g.id + ")");
  const group = world.groups.find((g) => g.id === view.groupId);
  const names = new Map([...world.users, ...world.bots].map((u) => [u.id, u.first_name]));
  $("group-members").textContent = group
    ? group.members.map((m) => (names.get(m.user_id) || m.user_id) + ": " + m.status).join(", ")
    : "";
  if (view.botId !== null) {
    const pending = await api("/bots/" + view.botId + "/updates");
    $("bot-queue").textContent = pending.length
      ? pending.length + " update(s) waiting for the bot (is it running?)"
      : "The bot has taken every update.";
  }
  await renderStars();
  const bot = world.bots.find((b) => b.id === view.botId);
  const menu = bot && bot.menu_button && bot.menu_button.type === "web_app" ? bot.menu_button : null;
  $("menu-button").hidden = !menu;
  if (menu) {
    $("menu-button").textContent = menu.text;
    $("menu-button").dataset.url = menu.web_app.url;
  }
  $("status").textContent =
    world.bots.length + " bot(s), " + world.users.length + " user(s), " + world.groups.length + " group(s)";
  await renderChat();
}

// ---- the bot's Stars: what getStarTransactions shows, and its owner's refunds --------------
async function renderStars() {
  if (view.botId === null) {
    $("bot-balance").textContent = "";
    $("bot-stars").replaceChildren();
    return;
  }
  const botId = view.botId;
  const stars = await api("/bots/" + botId + "/stars");
  $("bot-balance").textContent = "Balance ⭐" + stars.balance;
  const refunded = new Set(stars.transactions.filter((t) => t.receiver).map((t) => t.id));
  $("bot-stars").replaceChildren(...stars.transactions.map((t) => {
    const item = document.createElement("li");
    const partner = t.source || t.receiver;
    const who = partner.user ? partner.user.first_name : partner.type;
    item.textContent = (t.source ? "+⭐" + t.amount + " from " : "−⭐" + t.amount + " refund to ") + who + " ";
    if (t.source && partner.user && !refunded.has(t.id)) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Refund (as the owner)";
      button.addEventListener("click", () => attempt(() => api("/bots/" + botId + "/refunds", {
        user_id: partner.user.id, telegram_payment_charge_id: t.id,
      })));
      item.append(button);
    }
    return item;
  }));
}

// ---- the chat -----------------------------------------------------------------------------
function currentChatId() {
  return view.tab === "private" ? view.userId : view.groupId;
}

async function renderChat() {
  const chatId = currentChatId();
  const bot = world.bots.find((b) => b.id === view.botId);
  const group = world.groups.find((g) => g.id === view.groupId);
  $("chat-title").textContent = view.tab === "private"
    ? (bot ? "Private chat with @" + bot.username : "Register a bot to chat with it.")
    : (group ? group.title : "Create a group.");
  if (chatId === null || view.botId === null) {
    $("messages").replaceChildren();
    view.lastRendered = "";
    return;
  }
  const messages = await api("/chats/" + chatId + "/messages?bot_id=" + view.botId);
  const fingerprint = JSON.stringify(messages);
  if (fingerprint === view.lastRendered) {
    return;
  }
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...messages.map((m) => renderMessage(m, chatId)));
  if (atBottom || !view.lastRendered) {
    list.scrollTop = list.scrollHeight;
  }
  view.lastRendered = fingerprint;
}

function renderMessage(message, chatId) {
  const item = document.createElement("li");
  const service = serviceText(message);
  if (service) {
    item.className = "service";
    item.textContent = service;
    return item;
  }
  const mine = message.from && message.from.id === view.userId;
  item.className = "message" + (mine ? " mine" : "");
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = message.from ? message.from.first_name : "";
  item.append(who);
  if (message.reply_to_message) {
    const quote = document.createElement("div");
    quote.className = "reply";
    const replied = message.reply_to_message;
    quote.textContent = (replied.from ? replied.from.first_name + ": " : "") + (replied.text || replied.caption || "…");
    item.append(quote);
  }
  if (message.photo) {
    const image = document.createElement("img");
    image.alt = "photo";
    image.src = API + "/files/" + encodeURIComponent(message.photo[message.photo.length - 1].file_id);
    item.append(image);
  }
  if (message.invoice) {
    item.append(renderInvoice(message, chatId));
  }
  const text = message.text !== undefined ? message.text : message.caption;
  if (text !== undefined) {
    const body = document.createElement("div");
    body.append(...renderEntities(text, message.entities || message.caption_entities || []));
    item.append(body);
  }
  if (message.reply_markup && message.reply_markup.inline_keyboard) {
    item.append(renderKeyboard(message, chatId));
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = "#" + message.message_id + (message.edit_date ? " · edited" : "");
  item.append(meta);
  return item;
}

function serviceText(message) {
  const name = (user) => user.first_name;
  if (message.new_chat_members) {
    const joined = message.new_chat_members.map(name).join(", ");
    return message.from && message.new_chat_members.some((u) => u.id !== message.from.id)
      ? name(message.from) + " added " + joined
      : joined + " joined the group";
  }
  if (message.left_chat_member) {
    return name(message.left_chat_member) + " left the group";
  }
  if (message.successful_payment) {
    return "You paid ⭐" + message.successful_payment.total_amount;
  }
  if (message.refunded_payment) {
    return "⭐" + message.refunded_payment.total_amount + " refunded";
  }
  return "";
}

// Entity offsets count UTF-16 code units, which is what JavaScript strings index by.
function renderEntities(text, entities) {
  const tags = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre" };
  const nodes = [];
  let position = 0;
  const sorted = entities.filter((e) => e.offset >= 0).sort((a, b) => a.offset - b.offset);
  for (const entity of sorted) {
    if (entity.offset < position) {
      continue; // nested entities are shown with their outer one only
    }
    nodes.push(document.createTextNode(text.slice(position, entity.offset)));
    const part = text.slice(entity.offset, entity.offset + entity.length);
    let node;
    if (entity.type === "text_link" || entity.type === "url") {
      node = document.createElement("a");
      node.href = entity.type === "url" ? part : entity.url;
      node.target = "_blank";
      node.rel = "noopener";
    } else if (entity.type === "spoiler") {
      node = document.createElement("span");
      node.className = "spoiler";
    } else {
      node = document.createElement(tags[entity.type] || "span");
    }
    node.textContent = part;
    nodes.push(node);
    position = entity.offset + entity.length;
  }
  nodes.push(document.createTextNode(text.slice(position)));
  return nodes;
}

// A bot's deep link (https://t.me/<bot>?start=<payload>) opens the private chat with that
// bot and sends /start with the payload as the user, as Telegram's apps do; other links open.
function startPayload(url) {
  let link;
  try {
    link = new URL(url);
  } catch {
    return null;
  }
  const bot = world.bots.find((b) => link.pathname === "/" + b.username);
  const payload = link.searchParams.get("start");
  return link.hostname === "t.me" && bot && payload !== null ? { bot, payload } : null;
}

function openUrl(url) {
  const start = startPayload(url);
  if (start === null) {
    window.open(url, "_blank", "noopener");
    return;
  }
  attempt(async () => {
    requireSelection();
    view.botId = start.bot.id;
    $("tab-private").click();
    const text = `/start ${start.payload}`.trim();
    await api("/messages", { bot_id: view.botId, chat_id: view.userId, user_id: view.userId, text });
  });
}

function renderKeyboard(message, chatId) {
  const keyboard = document.createElement("div");
  keyboard.className = "keyboard";
  for (const row of message.reply_markup.inline_keyboard) {
    const line = document.createElement("div");
    line.className = "krow";
    for (const button of row) {
      const element = document.createElement("button");
      element.type = "button";
      element.textContent = button.text;
      if (button.callback_data !== undefined) {
        element.addEventListener("click", () => press(message, chatId, button.callback_data));
      } else if (button.url) {
        element.addEventListener("click", () => openUrl(button.url));
      } else if (button.web_app) {
        element.addEventListener("click", () => openWebApp(button.web_app.url, view.tab === "private" ? "private" : "supergroup"));
      } else if (button.pay) {
        element.addEventListener("click", () => pay(message, chatId));
      } else {
        element.disabled = true;
        element.title = "not emulated";
      }
      line.append(element);
    }
    keyboard.append(line);
  }
  return keyboard;
}

function renderInvoice(message, chatId) {
  const card = document.createElement("div");
  card.className = "invoice";
  const title = document.createElement("strong");
  title.textContent = message.invoice.title;
  const description = document.createElement("div");
  description.textContent = message.invoice.description;
  card.append(title, description);
  if (!message.reply_markup) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Pay ⭐" + message.invoice.total_amount;
    button.addEventListener("click", () => pay(message, chatId));
    card.append(button);
  }
  return card;
}

async function press(message, chatId, data) {
  await attempt(async () => {
    const update = await api("/buttons", {
      bot_id: view.botId, chat_id: chatId, user_id: view.userId, message_id: message.message_id, data,
    });
    if (update.callback_query) {
      awaitAnswer(update.callback_query.id, 0);
    }
  });
}

// The bot answers the press with answerCallbackQuery; show its text like Telegram does.
async function awaitAnswer(queryId, tries) {
  const { answer } = await api("/callbacks/" + encodeURIComponent(queryId));
  if (answer) {
    if (answer.text) {
      toast(answer.text, answer.show_alert);
    }
    return;
  }
  if (tries < 20) {
    setTimeout(() => awaitAnswer(queryId, tries + 1), 500);
  }
}

// A Mini App opens with signed initData in its URL fragment, as Telegram's apps open it.
async function openWebApp(url, chatType) {
  await attempt(async () => {
    requireSelection();
    const opened = await api("/bots/" + view.botId + "/web-app", { user_id: view.userId, url, chat_type: chatType });
    window.open(opened.url, "_blank", "noopener");
  });
}

async function pay(message, chatId) {
  await attempt(() => api("/invoices/pay", {
    bot_id: view.botId, chat_id: chatId, user_id: view.userId, message_id: message.message_id,
  }));
}

// ---- wiring -------------------------------------------------------------------------------
function formData(form) {
  const data = Object.fromEntries(new FormData(form).entries());
  for (const key of Object.keys(data)) {
    if (data[key] === "") {
      delete data[key];
    }
  }
  return data;
}

function requireSelection() {
  if (view.userId === null || view.botId === null) {
    throw new Error("Pick a user and a bot first.");
  }
}

$("user-select").addEventListener("change", (e) => { view.userId = Number(e.target.value); refresh(); });
$("bot-select").addEventListener("change", (e) => { view.botId = Number(e.target.value); refresh(); });
$("group-select").addEventListener("change", (e) => { view.groupId = Number(e.target.value); refresh(); });

$("user-form").addEventListener("submit", (e) => {
  e.preventDefault();
  attempt(async () => {
    const user = await api("/users", formData(e.target));
    view.userId = user.id;
    e.target.reset();
  });
});

$("bot-form").addEventListener("submit", (e) => {
  e.preventDefault();
  attempt(async () => {
    const bot = await api("/bots", formData(e.target));
    view.botId = bot.id;
    e.target.reset();
  });
});

$("group-form").addEventListener("submit", (e) => {
  e.preventDefault();
  attempt(async () => {
    if (view.userId === null) {
      throw new Error("Pick a user first: they will own the group.");
    }
    const group = await api("/groups", formData(e.target));
    await api("/groups/" + group.id + "/members", { user_id: view.userId, status: "creator" });
    view.groupId = group.id;
    e.target.reset();
  });
});

$("join-button").addEventListener("click", () => attempt(() =>
  api("/groups/" + view.groupId + "/join", { user_id: view.userId })));

for (const [id, status] of [["add-bot-button", "member"], ["add-admin-bot-button", "administrator"]]) {
  $(id).addEventListener("click", () => attempt(() => {
    requireSelection();
    return api("/groups/" + view.groupId + "/bots", { bot_id: view.botId, by_user_id: view.userId, status });
  }));
}

$("block-button").addEventListener("click", () => attempt(() => {
  requireSelection();
  return api("/users/" + view.userId + "/block", { bot_id: view.botId }).then(() =>
    toast("Blocked: the bot's messages to you now fail with 403. Write to it to unblock."));
}));

for (const tab of ["private", "group"]) {
  $("tab-" + tab).addEventListener("click", () => {
    view.tab = tab;
    view.lastRendered = "";
    $("tab-private").classList.toggle("active", tab === "private");
    $("tab-group").classList.toggle("active", tab === "group");
    renderChat().catch((error) => toast(error.message, true));
  });
}

$("menu-button").addEventListener("click", (e) => openWebApp(e.target.dataset.url, "private"));

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim()) {
    return;
  }
  attempt(async () => {
    requireSelection();
    await api("/messages", { bot_id: view.botId, chat_id: currentChatId(), user_id: view.userId, text });
    input.value = "";
  });
});

refresh().catch((error) => toast(error.message, true));
setInterval(() => renderChat().catch(() => {}), 1000);
setInterval(() => refresh().catch(() => {}), 4000);
