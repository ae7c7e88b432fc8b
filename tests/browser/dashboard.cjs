// dashboard.cjs - drives the dashboard in Debian's Chromium (headless,
// through puppeteer-core from tools/web) against a running daemon, as a
// user would, and prints one TAP line per check ("ok - ..." / "not ok -
// ..."); tests/test_dashboard.sh starts the daemon, makes the users and
// counts the lines. Every wait is bounded; a browser that cannot start is
// a failure with its reason.
//
// Environment: URL (the daemon), ALICE_TOKEN (a plain user's), ADMIN_TOKEN,
// BOB_JOB (a job of another plain user), FUNNEL (the admin's finished NUTS
// job), OUT (where screenshots go), CHROMIUM; with MODE=proxy, PAGE_URL
// (the page through nginx) and URL, ADMIN_TOKEN, OUT, CHROMIUM.
"use strict";
const path = require("path");
const fs = require("fs");
const { createRequire } = require("module");

const root = path.resolve(__dirname, "../..");
const env = process.env;
const URL = env.URL, OUT = env.OUT;
let passed = 0, failed = 0;

function result(name, good, diag) {
  if (good) passed++;
  else failed++;
  console.log((good ? "ok - " : "not ok - ") + name);
  if (!good && diag) for (const l of String(diag).split("\n").slice(0, 10)) console.log("#   " + l);
  return good;
}

async function api(method, p, token, body) {
  const h = { Authorization: "Bearer " + token };
  if (body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(URL + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (_) {}
  return { status: r.status, json, text };
}


// Waits (at most ms) for fn() in the page to be truthy; its value, or null.
async function waitIn(page, fn, arg, ms = 30000) {
  try {
    const h = await page.waitForFunction(fn, { timeout: ms, polling: 100 }, arg);
    return await h.jsonValue();
  } catch (_) {
    return null;
  }
}

// Clicks the element sel names from inside the page, in one step: the live
// lists redraw their rows, so a handle taken before the click may be gone
// by then ("Node is detached"). Waits up to 10 s for it to exist.
async function clickNow(page, sel) {
  return waitIn(page, (s) => {
    const e = document.querySelector(s);
    if (!e) return null;
    e.click();
    return true;
  }, sel, 10000);
}

async function signIn(page, token) {
  await page.goto(URL + "/", { waitUntil: "load" });
  await page.waitForSelector("#token", { timeout: 20000 });
  await page.type("#token", token);
  await page.click("#sign-in button[type=submit]");
  return waitIn(page, () => !document.getElementById("nav").hidden && document.querySelector("#jobs tbody tr"));
}

async function setField(page, id, value) {
  await page.$eval("#" + id, (e, v) => {
    e.value = v;
    e.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}

// Chromium with a page that records script errors and CSP violations in
// problems and accepts every confirmation, noting its text in dialogs;
// null (and a failure) when it cannot start.
async function launch(extraArgs = []) {
  const puppeteer = createRequire(path.join(root, "tools/web/package.json"))("puppeteer-core");
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath: env.CHROMIUM || "/usr/bin/chromium", headless: true, timeout: 60000,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", ...extraArgs],
    });
  } catch (e) {
    result("Chromium starts (" + (env.CHROMIUM || "/usr/bin/chromium") + ")", false, e.message);
    return null;
  }
  result("Chromium starts: " + (await browser.version()), true);
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1700 });
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    // expected answers: 401 before sign-in, 404 for bob's job, 422 for the bad form value
    if (m.type() === "error" && !/status of (401|404|422)/.test(m.text())) problems.push("console: " + m.text());
  });
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  return { browser, page, problems, dialogs };
}

async function main() {
  const b = await launch();
  if (!b) return;
  const { browser, page, problems, dialogs } = b;
  // whether the last action asked for a confirmation that matches re
  const confirmed = (re) => dialogs.length > 0 && re.test(dialogs.splice(0).pop());
  try {
    // --- the page and its headers ---
    const r = await fetch(URL + "/");
    const csp = r.headers.get("content-security-policy") || "";
    result("GET / serves the page with a CSP that allows no inline script",
      r.status === 200 && /script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp) && r.headers.get("etag"), csp);

    // --- a wrong token is refused and not kept ---
    await page.goto(URL + "/", { waitUntil: "load" });
    await page.waitForSelector("#token", { timeout: 20000 });
    await page.type("#token", "mcmcd_not_a_token");
    await page.click("#sign-in button[type=submit]");
    const refused = await waitIn(page, () => (document.getElementById("sign-in-error") || {}).textContent || null, null, 10000);
    const keptBad = await page.evaluate(() => sessionStorage.getItem("mcmcd.token"));
    result(`a wrong token is refused on the sign-in form (${refused}) and not kept`,
      !!refused && keptBad === null && (await page.$("#nav[hidden]")) !== null, String(keptBad));

    // --- alice signs in; bob's job is not hers to see ---
    const listed = await signIn(page, env.ALICE_TOKEN);
    result("alice signs in with her token; the job list shows", !!listed);
    const stored = await page.evaluate(() => [sessionStorage.getItem("mcmcd.token"), location.href]);
    result("the token is in session storage and not in the URL",
      stored[0] === env.ALICE_TOKEN && !stored[1].includes(env.ALICE_TOKEN), stored[1]);
    const bobRow = await page.$(`#jobs tr[data-job="${env.BOB_JOB}"]`);
    result("bob's job is not in alice's list", !bobRow);
    await page.evaluate((id) => (location.hash = "#/job/" + id), env.BOB_JOB);
    const notFound = await waitIn(page, () => {
      const e = document.querySelector("main .error[role=alert]");
      return e && e.textContent;
    });
    result("bob's job page answers alice 'not found'", /no job/.test(notFound || ""), notFound);

    // --- the submit form, built from /v1/info; a bad value ---
    await page.evaluate(() => (location.hash = "#/submit"));
    await page.waitForSelector("#submit-form", { timeout: 20000 });
    const samplers = await page.$$eval("#f-sampler-type option", (o) => o.map((x) => x.value));
    const info = (await api("GET", "/v1/info", env.ALICE_TOKEN)).json;
    result("the form offers every sampler of /v1/info", JSON.stringify(samplers) === JSON.stringify(info.samplers.map((s) => s.name)),
      samplers.join(","));
    const dtypes = await page.$$eval("#f-dtype option", (o) => o.map((x) => x.value).filter(Boolean));
    result("the form offers every dtype of /v1/info", dtypes.length > 0 && JSON.stringify(dtypes) === JSON.stringify(info.dtypes),
      dtypes.join(","));
    // a CSV uploaded from the form becomes the chosen dataset
    const formCsv = path.join(OUT, "form.csv");
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(formCsv, "a,b,c,y\n1,2,3,0\n3,4,5,1\n0.5,-1,2,1\n2,2,2,0\n");
    await (await page.$("#f-upload")).uploadFile(formCsv);
    await page.type("#f-upload-name", "from-form");
    await page.click("#upload");
    const chosen = await waitIn(page, () => {
      const sel = document.getElementById("f-data");
      const o = sel && sel.selectedOptions[0];
      return o && o.textContent.startsWith("from-form") ? o.textContent : null;
    });
    result("a CSV uploaded from the form is chosen as the data (" + chosen + ")",
      !!chosen && /n 4, d 3/.test(chosen), await page.$eval("#f-data", (e) => e.value + " | " + [...e.options].map((o) => o.value + "=" + o.textContent).join(" | ")));

    await setField(page, "f-sampler-type", "nuts");
    await setField(page, "f-data", "synthetic");
    const nutsFields = await page.$$eval("#submit-form .params [data-path^='sampler.']", (i) => i.map((x) => x.dataset.path));
    const nuts = info.samplers.find((s) => s.name === "nuts");
    result("choosing nuts shows a field per nuts parameter",
      JSON.stringify(nutsFields) === JSON.stringify(nuts.params.map((p) => "sampler." + p.name)), nutsFields.join(","));
    await page.type("#f-data-synthetic-n", "2000");
    await page.type("#f-data-synthetic-d", "4");
    await page.type("#f-sampler-step_size", "-1");
    await page.type("#f-chains", "2");
    await page.click("#submit");
    const shown = await waitIn(page, () => {
      const s = document.querySelector('[data-error-for="sampler.step_size"]');
      return s && s.textContent;
    });
    const server = await api("POST", "/v1/jobs", env.ALICE_TOKEN,
      { data: { synthetic: { n: 2000, d: 4 } }, sampler: { type: "nuts", step_size: -1 }, chains: 2 });
    const detail = ((server.json && server.json.error && server.json.error.details) || []).find((d) => d.path === "sampler.step_size");
    result("a bad step size shows the server's error next to its field",
      server.status === 422 && detail && shown && shown.includes(detail.message), `shown '${shown}', server ${server.text}`);

    // --- a good job through the form ---
    await page.$eval("#f-sampler-step_size", (e) => (e.value = ""));
    await page.type("#f-name", "dash-run");
    await page.type("#f-tags", "browser, live");
    await page.type("#f-num_samples", "400000");
    await page.type("#f-num_warmup", "300");
    await page.type("#f-key", "[0, 7]");
    await page.type("#f-progress_every", "500");
    await page.click("#submit");
    const jobId = await waitIn(page, () => (location.hash.match(/^#\/job\/([0-9a-f]{24})$/) || [])[1]);
    result("the form submits the job and opens its page", !!jobId, await page.evaluate(() =>
      [...document.querySelectorAll(".field-error, #submit-errors li, .error")].map((e) => e.textContent).filter(Boolean).join("\n")));
    if (!jobId) return;
    const spec = (await api("GET", "/v1/jobs/" + jobId, env.ALICE_TOKEN)).json.spec;
    result("the job has the form's values", spec.sampler.type === "nuts" && spec.chains === 2 &&
      spec.num_samples === 400000 && spec.num_warmup === 300 && spec.name === "dash-run" &&
      JSON.stringify(spec.key) === "[0,7]" &&
      JSON.stringify(spec.tags) === '["browser","live"]', JSON.stringify(spec));

    // --- live: progress bars and traces grow while it runs ---
    const first = await waitIn(page, () => {
      const t = document.querySelector("#traces .chart.trace");
      const s = {
        points: Number((t || { dataset: {} }).dataset.points || 0), thin: Number((t || { dataset: {} }).dataset.thin || 0),
        iters: [...document.querySelectorAll("#progress tr.chain")].map((r) => Number(r.dataset.iter || 0)),
      };
      return s.points > 0 && s.iters.length === 2 && s.iters.every((i) => i > 0) ? s : null;
    });
    result("both chains' progress bars and the trace plots have data", !!first, JSON.stringify(first));
    // Both grow within 30 s (a sanitizer build runs a few blocks a second).
    // The plotted points grow at one thin; when the thin doubles in between
    // (the traces keep at most 2000 points a chain) they halve, so the
    // wait goes on until they have grown at the thin they are at.
    const samples = [];
    const second = await waitIn(page, (f) => {
      const t = document.querySelector("#traces .chart.trace");
      const s = {
        points: Number(t.dataset.points || 0), thin: Number(t.dataset.thin || 0),
        chainPoints: (t.dataset.chainPoints || "").split(",").map(Number),
        iters: [...document.querySelectorAll("#progress tr.chain")].map((r) => Number(r.dataset.iter || 0)),
        state: (document.getElementById("job-state") || {}).textContent,
      };
      (window.__samples = window.__samples || []).push(s);
      let from = window.__from || f;
      if (s.thin !== from.thin) from = window.__from = Object.assign({}, from, { thin: s.thin, points: s.points });
      return s.points > from.points && s.iters.every((v, c) => v > f.iters[c]) ? s : null;
    }, first || { points: 0, thin: 0, iters: [0, 0] });
    samples.push(...(await page.evaluate(() => window.__samples || [])));
    const last = second || samples[samples.length - 1] || {};
    result(`while it runs the plotted points grow at one thin (${first && first.points} -> ${last.points}, ` +
      `thin ${first && first.thin} -> ${last.thin})`, !!second && second.state === "running", JSON.stringify(last));
    result(`while it runs every chain's progress grows (${first && first.iters} -> ${last.iters})`,
      !!second && second.iters.every((v, c) => v > first.iters[c]), JSON.stringify(last));
    const pow2 = (t) => t >= 1 && (t & (t - 1)) === 0;
    const badSample = samples.find((s, i) => !pow2(s.thin) || s.chainPoints.some((n) => n > 2000) ||
      (i > 0 && s.thin < samples[i - 1].thin));
    result(`while it runs the traces' thin is a power of two that only grows, at most 2000 points a chain ` +
      `(${samples.length} looks, thin ${samples.length && samples[0].thin} -> ${last.thin})`,
      samples.length > 0 && !badSample, JSON.stringify(badSample));
    const traces = await page.$$eval("#traces .chart.trace", (b) => b.map((x) => x.dataset.param));
    result("a trace plot per parameter (" + traces.join(", ") + ")", traces.length === 4 &&
      traces.every((t) => /^theta\.\d$/.test(t)));
    const derived = await waitIn(page, () =>
      document.querySelectorAll("#histograms .chart[data-points]").length === 4 &&
      document.querySelectorAll("#ranks .chart[data-points]").length === 4 &&
      document.querySelector("#sampler-table tbody tr") ? true : null);
    result("histograms, rank plots and the sampler table fill in while it runs", !!derived);
    const cols = await page.$$eval("#progress tr.chain", (rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
    result("each chain's row shows its phase, it/s, ETA, accept rate (none for NUTS), divergences and step size",
      cols.length === 2 && cols.every((r) => r.length === 8 && /^(warmup|sampling)$/.test(r[2]) && Number(r[3]) > 0 &&
        /\d (s|min)/.test(r[4]) && r[5] === "-" && /^\d+$/.test(r[6]) && Number(r[7]) > 0), JSON.stringify(cols));
    // the summary is asked again while the job runs: it covers more draws
    const drawsNow = await page.$eval("#summary-table", (t) => Number(t.dataset.draws || 0));
    const drawsLater = await waitIn(page, (n) => {
      const t = document.getElementById("summary-table");
      return t && t.dataset.state === "running" && Number(t.dataset.draws) > n ? Number(t.dataset.draws) : null;
    }, drawsNow);
    result(`the summary table is refreshed while the job runs (${drawsNow} -> ${drawsLater} draws a chain)`, !!drawsLater);
    fs.mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: path.join(OUT, "job-running.png"), fullPage: true });
    await page.screenshot({ path: path.join(OUT, "job-running-top.png") });
    result("a screenshot of the job page mid-run is saved (" + path.join(OUT, "job-running.png") + ")",
      fs.statSync(path.join(OUT, "job-running.png")).size > 10000);

    // --- cancel ---
    dialogs.length = 0;
    await page.click("#job-cancel");
    const state = await waitIn(page, () => {
      const s = document.getElementById("job-state");
      return s && s.textContent === "cancelled" ? s.textContent : null;
    });
    const apiState = (await api("GET", "/v1/jobs/" + jobId, env.ALICE_TOKEN)).json.state;
    result("Cancel (confirmed) stops the job: the page and the API say cancelled",
      confirmed(/^Cancel this job\?/) && state === "cancelled" && apiState === "cancelled", `page ${state}, api ${apiState}`);

    // --- once every kept row is in: the thin that fits them, every row of it ---
    const kept = (await api("GET", "/v1/jobs/" + jobId, env.ALICE_TOKEN)).json.chains.map((c) => c.draws);
    let wantThin = 1;
    while (Math.ceil(Math.max(...kept) / wantThin) > 2000) wantThin *= 2;
    const wantPoints = kept.map((n) => Math.ceil(n / wantThin)).join(",");
    const settled = await waitIn(page, (w) => {
      const t = document.querySelector("#traces .chart.trace");
      return t && Number(t.dataset.thin) === w.thin && t.dataset.chainPoints === w.points ? true : null;
    }, { thin: wantThin, points: wantPoints });
    const got = await page.$eval("#traces .chart.trace", (t) => `thin ${t.dataset.thin}, points ${t.dataset.chainPoints}`);
    result(`the cancelled job's ${kept.join(" and ")} draws are plotted at thin ${wantThin}, the least power of two ` +
      `that fits 2000 a chain: ${wantPoints} points`, !!settled, got);

    // --- the summary table is GET /summary's ---
    const table = await waitIn(page, () => {
      const t = document.getElementById("summary-table");
      if (!t || t.dataset.final !== "1") return null;
      return [...t.querySelectorAll("tbody tr")].map((r) => [r.dataset.param, [...r.querySelectorAll("td")].map((d) => d.dataset.value)]);
    });
    const sum = (await api("GET", `/v1/jobs/${jobId}/summary`, env.ALICE_TOKEN)).json;
    const keys = ["mean", "sd", "q05", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail", "rhat"];
    const want = sum.parameters.map((p) => [p.name, keys.map((k) => (p[k] === null ? "null" : String(p[k])))]);
    result("the summary table holds GET /summary's numbers, every cell", JSON.stringify(table) === JSON.stringify(want),
      `page ${JSON.stringify(table)}\napi  ${JSON.stringify(want)}`);

    // --- the list: live columns, then delete ---
    await page.evaluate(() => (location.hash = "#/jobs"));
    const row = await waitIn(page, (id) => {
      const r = document.querySelector(`#jobs tr[data-job="${id}"]`);
      return r && r.querySelector(".sampler").textContent !== "..." ? [...r.children].map((c) => c.textContent.trim()) : null;
    }, jobId);
    result("the job's row shows name, state, sampler, model, progress, owner and tags",
      row && row[0] === "dash-run" && row[1] === "cancelled" && row[2] === "nuts" && row[3] === "logistic_regression" &&
      /%$/.test(row[4]) && row[5] === "alice" && row[6] === "browserlive", JSON.stringify(row));
    await page.type("#filter-name", "no-such-name");
    const byName = await waitIn(page, (id) => !document.querySelector(`#jobs tr[data-job="${id}"]`) || null, jobId, 5000);
    await page.$eval("#filter-name", (e) => { e.value = "DASH"; e.dispatchEvent(new Event("input")); });
    const back = await waitIn(page, (id) => document.querySelector(`#jobs tr[data-job="${id}"]`) ? true : null, jobId, 5000);
    result("filtering by part of the name hides and shows the job", !!byName && !!back);
    await page.$eval("#filter-name", (e) => { e.value = ""; e.dispatchEvent(new Event("input")); });
    await page.select("#filter-state", "running");
    const filtered = await waitIn(page, (id) => !document.querySelector(`#jobs tr[data-job="${id}"]`) || null, jobId, 10000);
    result("filtering by state 'running' hides the cancelled job", !!filtered);
    await page.select("#filter-state", "");
    await waitIn(page, (id) => document.querySelector(`#jobs tr[data-job="${id}"]`), jobId, 10000);
    dialogs.length = 0;
    await clickNow(page, `#jobs tr[data-job="${jobId}"] button.delete`);
    const gone = await waitIn(page, (id) => !document.querySelector(`#jobs tr[data-job="${id}"]`) || null, jobId);
    const after = await api("GET", "/v1/jobs/" + jobId, env.ALICE_TOKEN);
    result("Delete (confirmed) from the list removes the job (API: 404)",
      confirmed(/^Delete job dash-run and its draws\?/) && !!gone && after.status === 404, after.text);

    // --- cancel from the list ---
    const long = await api("POST", "/v1/jobs", env.ALICE_TOKEN, { name: "to-cancel", data: { synthetic: { n: 500, d: 2 } },
      sampler: { type: "mala", step_size: 0.01 }, num_samples: 10000, thin: 10000 });
    const lid = long.json && long.json.id;
    const cancelButton = await waitIn(page, (id) => !!document.querySelector(`#jobs tr[data-job="${id}"] button.cancel`) || null, lid);
    dialogs.length = 0;
    if (cancelButton) await clickNow(page, `#jobs tr[data-job="${lid}"] button.cancel`);
    const listState = await waitIn(page, (id) => {
      const r = document.querySelector(`#jobs tr[data-job="${id}"]`);
      return r && r.dataset.state === "cancelled" ? "cancelled" : null;
    }, lid);
    result("Cancel (confirmed) from the list stops a job; its row turns cancelled",
      confirmed(/^Cancel job to-cancel\?/) && listState === "cancelled" && (await api("GET", "/v1/jobs/" + lid, env.ALICE_TOKEN)).json.state === "cancelled");

    // --- datasets: upload a CSV through the page, see its size, delete it ---
    await page.evaluate(() => (location.hash = "#/datasets"));
    await page.waitForSelector("#ds-upload", { timeout: 20000 });
    const csv = path.join(OUT, "tiny.csv");
    fs.writeFileSync(csv, "x1,x2,y\n1,2,0\n3,4,1\n0.5,-1,1\n");
    const input = await page.$("#ds-file");
    await input.uploadFile(csv);
    await page.type("#ds-name", "tiny-from-page");
    await page.click("#ds-upload button[type=submit]");
    const ds = await waitIn(page, () => {
      const r = [...document.querySelectorAll("#datasets tbody tr")].find((x) => x.firstChild.textContent === "tiny-from-page");
      return r ? { id: r.dataset.dataset, cells: [...r.children].map((c) => c.textContent), bytes: r.querySelector("[data-bytes]").dataset.bytes } : null;
    });
    const listedDs = ((await api("GET", "/v1/datasets", env.ALICE_TOKEN)).json.datasets || []).find((d) => ds && d.id === ds.id);
    result("a CSV uploaded on the datasets page is listed with its rows, columns and size",
      ds && listedDs && ds.cells[3] === "3" && ds.cells[4] === "2" && String(listedDs.bytes) === ds.bytes, JSON.stringify(ds));
    if (ds) {
      dialogs.length = 0;
      await clickNow(page, `#datasets tr[data-dataset="${ds.id}"] button.delete`);
      const dsGone = await waitIn(page, (id) => !document.querySelector(`#datasets tr[data-dataset="${id}"]`) || null, ds.id);
      result("Delete (confirmed) removes the dataset", confirmed(/^Delete dataset tiny-from-page\?/) && !!dsGone &&
        (await api("GET", "/v1/datasets/" + ds.id, env.ALICE_TOKEN)).status === 404);
    }

    // --- the admin sees everyone's jobs ---
    await page.click("#sign-out");
    await signIn(page, env.ADMIN_TOKEN);
    const adminSees = await waitIn(page, (id) => document.querySelector(`#jobs tr[data-job="${id}"]`) ? true : null, env.BOB_JOB);
    result("the admin's list shows bob's job", !!adminSees);

    // --- divergences marked, downloads: a finished funnel job of the admin's ---
    await divergencesAndDownloads(page);

    result("no script error, CSP violation or failed request on any page", problems.length === 0, problems.join("\n"));
  } finally {
    await browser.close();
  }
}

// FUNNEL (the admin's, finished: NUTS on Neal's funnel, which diverges):
// the trace plot marks exactly the divergent draws that GET draws?stats=1
// reports, and the page's downloads are the API's bytes.
async function divergencesAndDownloads(page) {
  const id = env.FUNNEL;
  const draws = (await api("GET", `/v1/jobs/${id}/draws?format=json&stats=1`, env.ADMIN_TOKEN)).json;
  const col = draws.stat_names.indexOf("divergent__");
  const want = draws.stats.reduce((a, chain) => a + chain.filter((row) => row[col] === 1).length, 0);
  await page.evaluate((j) => (location.hash = "#/job/" + j), id);
  const marked = await waitIn(page, (n) => {
    const t = document.querySelector("#traces .chart.trace");
    const s = document.getElementById("summary-table");
    return t && s && s.dataset.final === "1" && Number(t.dataset.points) === n ? t.dataset.divergent : null;
  }, draws.shape[0] * draws.shape[1]);
  result(`the funnel's trace plot marks its ${want} divergent draws (marked: ${marked})`,
    want > 0 && Number(marked) === want);

  const dir = path.join(OUT, "downloads");
  fs.mkdirSync(dir, { recursive: true });
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dir });
  // highlighted exactly where R-hat > 1.01 or an ESS is under 100 per chain
  const cells = await page.$$eval("#summary-table tbody td", (tds) => tds.map((t) => [t.dataset.value, t.classList.contains("warn")]));
  const chains = draws.shape[0];
  const warnWanted = cells.map((_, i) => {
    const col = i % 9, v = Number(cells[i][0]);
    return (col === 8 && v > 1.01) || ((col === 6 || col === 7) && v < 100 * chains);
  });
  const wrong = cells.filter((c, i) => c[1] !== warnWanted[i]).length;
  result(`the summary highlights R-hat > 1.01 and ESS < ${100 * chains}, nothing else ` +
    `(${warnWanted.filter(Boolean).length} cells here)`, cells.length > 0 && wrong === 0, JSON.stringify(cells));
  const ebfmi = await page.$$eval("#sampler-table tbody tr", (rows) => rows.map((r) => r.children[3].dataset.value));
  const sum = (await api("GET", `/v1/jobs/${id}/summary`, env.ADMIN_TOKEN)).json;
  result("the sampler table's E-BFMI per chain is the summary's",
    JSON.stringify(ebfmi) === JSON.stringify(sum.chains.map((c) => (c.ebfmi === null ? "null" : String(c.ebfmi)))),
    JSON.stringify(ebfmi));

  for (const [label, query, file] of [[".npy", "format=npy", id + ".npy"], ["CSV", "format=csv", id + ".csv"],
    ["JSON", "format=json", id + ".json"]]) {
    await page.click(`button.download[data-format="${label}"]`);
    const got = await waitForFile(path.join(dir, file));
    const r = await fetch(`${URL}/v1/jobs/${id}/draws?${query}`, { headers: { Authorization: "Bearer " + env.ADMIN_TOKEN } });
    const bytes = Buffer.from(await r.arrayBuffer());
    result(`the ${label} download (with the token, through a Blob URL) is the API's ${bytes.length} bytes`,
      got && Buffer.compare(got, bytes) === 0, got ? `${got.length} bytes` : "no file");
  }
  await page.click('button.download[data-format="spec"]');
  const spec = await waitForFile(path.join(dir, id + ".spec.json"));
  const apiSpec = (await api("GET", "/v1/jobs/" + id, env.ADMIN_TOKEN)).json.spec;
  result("the spec JSON download is the job's spec",
    spec && JSON.stringify(JSON.parse(spec.toString())) === JSON.stringify(apiSpec));
}

// The file's bytes once it is whole (Chromium writes NAME.crdownload first).
async function waitForFile(file, ms = 20000) {
  for (let t = 0; t < ms; t += 100) {
    if (fs.existsSync(file)) return fs.readFileSync(file);
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

// Through nginx (deploy/nginx.conf with its TLS lines on, a self-signed
// certificate) at PAGE_URL: sign in, submit (to URL, the daemon) a job of
// 16 chains and 5 parameters, open its page, and see every chain and its
// plots fill in through the proxy's unbuffered streams; the job is
// cancelled at the end. How long the page's main
// thread was busy meanwhile (long tasks) is printed, not judged: timings
// belong to benchmarks.
async function throughProxy() {
  const b = await launch(["--ignore-certificate-errors"]);
  if (!b) return;
  const { browser, page, problems } = b;
  let job16 = null;
  try {
    const PAGE = env.PAGE_URL;
    await page.goto(PAGE + "/", { waitUntil: "load" });
    await page.waitForSelector("#token", { timeout: 20000 });
    await page.type("#token", env.ADMIN_TOKEN);
    await page.click("#sign-in button[type=submit]");
    const listed = await waitIn(page, () => document.querySelector("#jobs tbody tr"));
    result("through nginx with TLS (" + PAGE + "): the admin signs in, the list shows", !!listed);
    const many = await api("POST", "/v1/jobs", env.ADMIN_TOKEN, { data: { synthetic: { n: 2000, d: 5, seed: 4 } },
      name: "sixteen", chains: 16, sampler: { type: "nuts" }, num_samples: 50000, num_warmup: 200, progress_every: 100 });
    job16 = many.json && many.json.id;
    result(`the admin submits a job of 16 chains x 5 parameters (${job16})`, many.status === 201 && !!job16, many.text);
    await page.evaluate(() => {
      window.__long = [];
      new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration)))
        .observe({ type: "longtask", buffered: false });
    });
    await page.evaluate((id) => (location.hash = "#/job/" + id), job16);
    const rows = await waitIn(page, () => document.querySelectorAll("#progress tr.chain").length === 16 || null);
    result("through nginx: a progress bar for each of the 16 chains", !!rows);
    const first = await waitIn(page, () => {
      const t = document.querySelectorAll("#traces .chart.trace");
      const p = t.length ? Number(t[0].dataset.points || 0) : 0;
      return t.length === 5 && p > 0 ? p : null;
    });
    result("through nginx: 5 trace plots with points", !!first);
    const perChain = await waitIn(page, () => {
      const t = document.querySelector("#traces .chart.trace");
      const n = (t.dataset.chainPoints || "").split(",").map(Number);
      return n.length === 16 && n.every((k) => k > 0) ? [t.dataset.thin, t.dataset.chainPoints] : null;
    }) || (await page.$eval("#traces .chart.trace", (t) => [t.dataset.thin, t.dataset.chainPoints]));
    const counts = (perChain[1] || "").split(",").map(Number);
    result(`through nginx: all 16 chains stream onto the traces, at most 2000 points each (thin ${perChain[0]}: ${perChain[1]})`,
      counts.length === 16 && counts.every((n) => n > 0 && n <= 2000), perChain[1]);
    const grown = await waitIn(page, (f) => {
      const p = Number(document.querySelector("#traces .chart.trace").dataset.points || 0);
      return p > f ? p : null;
    }, first || 0);
    result(`through nginx: the plotted points grow while the job runs (${first} -> ${grown})`, !!grown);
    const long = await page.evaluate(() => window.__long);
    console.log(`# page main thread while 16 chains x 5 parameters stream: ${long.length} long tasks (> 50 ms), ` +
      `longest ${Math.round(Math.max(0, ...long))} ms, ${Math.round(long.reduce((a, b) => a + b, 0))} ms in all`);
    await page.screenshot({ path: path.join(OUT, "job16-nginx-tls.png") });
    result("no script error, CSP violation or failed request through the proxy", problems.length === 0, problems.join("\n"));
  } finally {
    if (job16) await api("POST", `/v1/jobs/${job16}/cancel`, env.ADMIN_TOKEN).catch(() => {});
    await browser.close();
  }
}

(env.MODE === "proxy" ? throughProxy() : main())
  .catch((e) => result("the browser session runs to its end", false, e.stack || e))
  .finally(() => {
    console.log(`# browser: ${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  });
