// plots.js - the job page's charts, drawn by uPlot (the global the page's
// uPlot.iife.min.js defines): a trace plot (one line per chain, divergent
// draws marked with red triangles), and stepped per-chain densities for
// histograms, rank plots and the energy plot. Each chart keeps its data in
// plain arrays and is redrawn by update(); the container's data-points says
// how many points it plots, and a trace's data-chain-points how many of
// each chain and data-thin the step between them (the browser test reads
// them).

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"];

export function chainColor(c) {
  return PALETTE[c % PALETTE.length];
}

function widthOf(container) {
  return Math.max(240, (container.clientWidth || 600) - 8);
}

function chainSeries(n, extra) {
  return Array.from({ length: n }, (_, c) =>
    Object.assign({ label: "chain " + c, stroke: chainColor(c), width: 1, points: { show: false } }, extra || {}));
}

// A trace plot in container for `chains` chains. update(x, ys, divs,
// perChain, thin): x the draw indices, ys[c] the chain's values (null
// where not yet there), divs[c] the indices into x of its divergent
// draws, perChain[c] how many values ys[c] holds, thin the step of x.
export function tracePlot(container, title, chains) {
  let divs = [];
  const opts = {
    title, width: widthOf(container), height: 180,
    scales: { x: { time: false } },
    legend: { show: chains <= 8 },
    series: [{ label: "draw" }, ...chainSeries(chains)],
    axes: [{}, { size: 60 }],
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = "#d62728";
        for (let c = 0; c < divs.length; c++) {
          for (const k of divs[c] || []) {
            const y = u.data[c + 1][k];
            if (y === null || y === undefined) continue;
            const px = u.valToPos(u.data[0][k], "x", true), py = u.valToPos(y, "y", true);
            ctx.beginPath();
            ctx.moveTo(px, py - 5);
            ctx.lineTo(px - 4, py + 3);
            ctx.lineTo(px + 4, py + 3);
            ctx.fill();
          }
        }
        ctx.restore();
      }],
    },
  };
  const u = new uPlot(opts, [[], ...Array.from({ length: chains }, () => [])], container);
  container.dataset.points = "0";
  return {
    update(x, ys, divsNow, perChain, thin) {
      divs = divsNow;
      u.setData([x, ...ys]);
      container.dataset.points = String(perChain.reduce((a, b) => a + b, 0));
      container.dataset.chainPoints = perChain.join(",");
      container.dataset.thin = String(thin);
      container.dataset.divergent = String(divs.reduce((a, d) => a + d.length, 0));
    },
    resize() {
      u.setSize({ width: widthOf(container), height: 180 });
    },
    destroy() {
      u.destroy();
    },
  };
}

// Stepped lines on shared edges: one per label, plus an optional dashed
// reference level. update(edges, ys, level).
export function stepPlot(container, title, labels, { xLabel = "", colors, level } = {}) {
  const stepped = uPlot.paths.stepped({ align: 1 });
  const series = [{ label: xLabel }, ...labels.map((l, i) => ({
    label: l, stroke: colors ? colors[i] : chainColor(i), width: 1.5, paths: stepped, points: { show: false },
  }))];
  if (level) series.push({ label: level, stroke: "#000", dash: [4, 4], width: 1, points: { show: false } });
  const u = new uPlot({
    title, width: widthOf(container), height: 160,
    scales: { x: { time: false } },
    legend: { show: labels.length <= 8 },
    series, axes: [{}, { size: 60 }],
  }, [[], ...series.slice(1).map(() => [])], container);
  return {
    update(edges, ys, levelValue) {
      const data = [edges, ...ys];
      if (level) data.push(edges.map(() => levelValue));
      u.setData(data);
      container.dataset.points = String(edges.length * ys.length);
    },
    resize() {
      u.setSize({ width: widthOf(container), height: 160 });
    },
    destroy() {
      u.destroy();
    },
  };
}
