// Plain DOM helpers for the call page: text only (textContent, never HTML), so nothing a
// participant or the gateway sends can become markup or script.

export const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

export function setText(id, text) {
  $(id).textContent = text;
}

export function show(id, visible = true) {
  $(id).hidden = !visible;
}

export function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined && text !== null) el.textContent = String(text);
  if (className) el.className = className;
  return el;
}

export function problem(text) {
  show("problems");
  const list = $("problem-list");
  // the same problem twice is one line, not a scrolling log
  for (const li of list.children) if (li.textContent === text) return;
  list.append(element("li", text));
}

export function clearProblems() {
  $("problem-list").replaceChildren();
  show("problems", false);
}

export function e2ee(state, reason) {
  const strong = $("e2ee-state");
  strong.textContent = state;
  strong.dataset.state = state;
  setText("e2ee-reason", reason);
}

export function ms(seconds) {
  return typeof seconds === "number" && Number.isFinite(seconds)
    ? `${(seconds * 1000).toFixed(0)} ms`
    : "–";
}
