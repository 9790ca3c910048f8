// A twin's relationships as an SVG graph: incoming sources | the twin | outgoing targets.

const NS = "http://www.w3.org/2000/svg";
const NODE_W = 170;
const NODE_H = 30;
const GAP_Y = 14;
const COL_X = [10, 245, 480];
const WIDTH = 660;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function clip(text, max = 22) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function relationshipGraph(twinId, incoming, outgoing) {
  const left = incoming.map((r) => ({ id: r.$sourceId, rel: r.$relationshipName }));
  const right = outgoing.map((r) => ({ id: r.$targetId, rel: r.$relationshipName }));
  const rows = Math.max(left.length, right.length, 1);
  const height = rows * (NODE_H + GAP_Y) + GAP_Y;
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    class: "graph",
    role: "group",
    "aria-label": `Relationships of ${twinId}`,
  });
  const colY = (count, index) => {
    const used = count * (NODE_H + GAP_Y) - GAP_Y;
    return (height - used) / 2 + index * (NODE_H + GAP_Y);
  };
  const centerY = colY(1, 0);
  const edge = (x1, y1, x2, y2, label) => {
    const mid = (x1 + x2) / 2;
    root.append(svg("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "edge" }));
    root.append(svg("text", { x: mid, y: (y1 + y2) / 2 - 4, class: "edge-label", "text-anchor": "middle" }, label));
  };
  left.forEach((node, i) => {
    const y = colY(left.length, i);
    edge(COL_X[0] + NODE_W, y + NODE_H / 2, COL_X[1], centerY + NODE_H / 2, node.rel);
  });
  right.forEach((node, i) => {
    const y = colY(right.length, i);
    edge(COL_X[1] + NODE_W, centerY + NODE_H / 2, COL_X[2], y + NODE_H / 2, node.rel);
  });
  const box = (id, x, y, current) => {
    const group = current ? svg("g", { class: "node current" }) : svg("a", { href: `#/twins/${encodeURIComponent(id)}`, class: "node" });
    group.append(svg("title", {}, id));
    group.append(svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
    group.append(svg("text", { x: x + NODE_W / 2, y: y + NODE_H / 2 + 4, "text-anchor": "middle" }, clip(id)));
    root.append(group);
  };
  left.forEach((node, i) => box(node.id, COL_X[0], colY(left.length, i), false));
  right.forEach((node, i) => box(node.id, COL_X[2], colY(right.length, i), false));
  box(twinId, COL_X[1], centerY, true);
  return root;
}
