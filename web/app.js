// app.js - the dashboard's entry: sign-in, the header, and the router
// (#/jobs, #/job/ID, #/submit, #/datasets). Each view is a function of the
// main element that returns a stop function, called when the user moves
// on, which ends its timers and streams.
import { ApiError, getJson, getToken, setToken } from "./api.js";
import { el, clear, errorBox } from "./dom.js";
import { showJobs } from "./jobs.js";
import { showJob } from "./job.js";
import { showSubmit } from "./submit.js";
import { showDatasets } from "./datasets.js";

const main = document.getElementById("main");
let stopView = null;
let me = null; // GET /v1/users/me (authOff: it answered without a token)

async function whoAmI() {
  try {
    return await getJson("/v1/users/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

function showSignIn(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  const input = el("input", {
    id: "token", type: "password", autocomplete: "off", spellcheck: "false",
    placeholder: "mcmcd_...", size: 60, "aria-label": "token",
  });
  const status = el("p", { class: "error", role: "alert", id: "sign-in-error" }, message || "");
  const form = el("form", { id: "sign-in", class: "card" },
    el("h1", {}, "Sign in"),
    el("p", {}, "Paste a token (", el("code", {}, "mcmcd token new NAME"),
      ", or the admin's in the data dir's admin.token). It is kept in this tab's session storage only."),
    input, " ", el("button", { type: "submit" }, "Sign in"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    try {
      me = await whoAmI();
    } catch (e) {
      me = null;
      status.textContent = e.message;
    }
    if (!me) {
      setToken("");
      status.textContent = status.textContent || "The server refused this token.";
      return;
    }
    route();
  });
  clear(main).append(form);
  input.focus();
}

function route() {
  if (stopView) stopView();
  stopView = null;
  if (!me) return showSignIn();
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = !!me.authOff;
  document.getElementById("who").textContent =
    me.name + (me.admin ? " (admin)" : "") + (me.authOff ? ", auth off" : "");
  const hash = location.hash || "#/jobs";
  const parts = hash.slice(2).split("/");
  for (const a of document.querySelectorAll("[data-nav]"))
    a.classList.toggle("active", a.dataset.nav === parts[0]);
  clear(main);
  const onAuthLost = () => {
    me = null;
    setToken("");
    showSignIn("The server no longer accepts the token: sign in again.");
  };
  const ctx = { me, onAuthLost };
  try {
    if (parts[0] === "job" && parts[1]) stopView = showJob(main, decodeURIComponent(parts[1]), ctx);
    else if (parts[0] === "submit") stopView = showSubmit(main, ctx);
    else if (parts[0] === "datasets") stopView = showDatasets(main, ctx);
    else stopView = showJobs(main, ctx);
  } catch (e) {
    main.append(errorBox(e));
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  setToken("");
  me = null;
  if (stopView) stopView();
  stopView = null;
  showSignIn();
});
window.addEventListener("hashchange", route);

// With auth = none the API answers without a token: no sign-in then.
(async () => {
  try {
    me = await whoAmI();
    if (me && !getToken()) me.authOff = true;
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  route();
})();
