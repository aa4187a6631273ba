// Inline SVG icons (24×24, stroked with currentColor). Each icon is a list of
// [element, attributes] pairs; app.js builds them with createElementNS, so no
// markup is ever parsed from strings.

export const ICONS = {
  // ---- device types ----
  gateway: [
    ["rect", { x: 2, y: 13, width: 20, height: 8, rx: 2 }],
    ["path", { d: "M6.01 17h.01M10 17h.01" }],
    ["path", { d: "M15 17h3" }],
    ["path", { d: "M12 13V9" }],
    ["path", { d: "M8.5 6.5a5 5 0 0 1 7 0" }],
    ["path", { d: "M6 4a8.5 8.5 0 0 1 12 0" }],
  ],
  router: "gateway",
  server: [
    ["rect", { x: 3, y: 3, width: 18, height: 7, rx: 2 }],
    ["rect", { x: 3, y: 14, width: 18, height: 7, rx: 2 }],
    ["path", { d: "M7 6.5h.01M7 17.5h.01M11 6.5h6M11 17.5h6" }],
  ],
  computer: [
    ["rect", { x: 2, y: 3, width: 20, height: 13, rx: 2 }],
    ["path", { d: "M8 21h8M12 16v5" }],
  ],
  printer: [
    ["path", { d: "M6 9V3h12v6" }],
    ["rect", { x: 2, y: 9, width: 20, height: 8, rx: 2 }],
    ["path", { d: "M6 14h12v7H6z" }],
    ["path", { d: "M18 12h.01" }],
  ],
  nas: [
    ["rect", { x: 4, y: 2, width: 16, height: 20, rx: 2 }],
    ["path", { d: "M8 6h8M8 10h8M8 14h8" }],
    ["path", { d: "M12 18h.01" }],
  ],
  camera: [
    ["path", { d: "M3 6l13 4-2 5L2 11z" }],
    ["path", { d: "M16 10l4-1.5v5L15 15" }],
    ["path", { d: "M6 12.5L5 18H2M5 18v3" }],
  ],
  phone: [
    ["rect", { x: 6, y: 2, width: 12, height: 20, rx: 2.5 }],
    ["path", { d: "M11 18h2" }],
  ],
  docker_host: [
    ["rect", { x: 2, y: 12, width: 6, height: 5, rx: 0.8 }],
    ["rect", { x: 9, y: 12, width: 6, height: 5, rx: 0.8 }],
    ["rect", { x: 16, y: 12, width: 6, height: 5, rx: 0.8 }],
    ["rect", { x: 5.5, y: 6, width: 6, height: 5, rx: 0.8 }],
    ["rect", { x: 12.5, y: 6, width: 6, height: 5, rx: 0.8 }],
    ["path", { d: "M2 20h20" }],
  ],
  container: [
    ["path", { d: "M21 8l-9-5-9 5v8l9 5 9-5z" }],
    ["path", { d: "M3 8l9 5 9-5M12 13v8" }],
  ],
  access_point: [
    ["path", { d: "M5 12.5a10 10 0 0 1 14 0" }],
    ["path", { d: "M8.5 16a5 5 0 0 1 7 0" }],
    ["path", { d: "M2 9a14.5 14.5 0 0 1 20 0" }],
    ["path", { d: "M12 19.5h.01" }],
  ],
  switch: [
    ["rect", { x: 2, y: 7, width: 20, height: 10, rx: 2 }],
    ["path", { d: "M6 12h.01M9 12h.01M12 12h.01M15 12h.01M18 12h.01" }],
  ],
  hypervisor: [
    ["path", { d: "M12 2l10 5-10 5L2 7z" }],
    ["path", { d: "M2 12l10 5 10-5" }],
    ["path", { d: "M2 17l10 5 10-5" }],
  ],
  media: [
    ["rect", { x: 2, y: 4, width: 20, height: 13, rx: 2 }],
    ["path", { d: "M10 8l5 2.5-5 2.5z" }],
    ["path", { d: "M8 21h8" }],
  ],
  iot: [
    ["rect", { x: 6, y: 6, width: 12, height: 12, rx: 2 }],
    ["rect", { x: 10, y: 10, width: 4, height: 4 }],
    ["path", { d: "M9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4" }],
  ],
  unknown: [
    ["circle", { cx: 12, cy: 12, r: 10 }],
    ["path", { d: "M9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3" }],
    ["path", { d: "M12 17h.01" }],
  ],
  // ---- user interface ----
  dashboard: [
    ["rect", { x: 3, y: 3, width: 7, height: 9, rx: 1 }],
    ["rect", { x: 14, y: 3, width: 7, height: 5, rx: 1 }],
    ["rect", { x: 14, y: 12, width: 7, height: 9, rx: 1 }],
    ["rect", { x: 3, y: 16, width: 7, height: 5, rx: 1 }],
  ],
  devices: [
    ["rect", { x: 2, y: 4, width: 14, height: 10, rx: 1.5 }],
    ["path", { d: "M6 18h6M9 14v4" }],
    ["rect", { x: 18, y: 8, width: 4, height: 12, rx: 1 }],
  ],
  map: [
    ["rect", { x: 9, y: 2, width: 6, height: 5, rx: 1 }],
    ["rect", { x: 2, y: 17, width: 6, height: 5, rx: 1 }],
    ["rect", { x: 16, y: 17, width: 6, height: 5, rx: 1 }],
    ["path", { d: "M12 7v5M5 17v-2.5a2.5 2.5 0 0 1 2.5-2.5h9a2.5 2.5 0 0 1 2.5 2.5V17" }],
  ],
  scans: [
    ["path", { d: "M19.07 4.93A10 10 0 1 0 22 12" }],
    ["path", { d: "M16.24 7.76A6 6 0 1 0 18 12" }],
    ["path", { d: "M12 12l7-7" }],
    ["circle", { cx: 12, cy: 12, r: 1.5 }],
  ],
  changes: [
    ["path", { d: "M3 12h4l3-8 4 16 3-8h4" }],
  ],
  daemons: [
    ["circle", { cx: 7.5, cy: 15.5, r: 4.5 }],
    ["path", { d: "M10.7 12.3L21 2M18 5l3 3M15 8l2 2" }],
  ],
  users: [
    ["circle", { cx: 9, cy: 8, r: 4 }],
    ["path", { d: "M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1M16 4a4 4 0 0 1 0 8M19 14a5 5 0 0 1 3 5v2" }],
  ],
  logout: [
    ["path", { d: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" }],
    ["path", { d: "M16 17l5-5-5-5M21 12H9" }],
  ],
  search: [["circle", { cx: 11, cy: 11, r: 7 }], ["path", { d: "M21 21l-4.3-4.3" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  minus: [["path", { d: "M5 12h14" }]],
  fit: [["path", { d: "M3 8V5a2 2 0 0 1 2-2h3M16 3h3a2 2 0 0 1 2 2v3M21 16v3a2 2 0 0 1-2 2h-3M8 21H5a2 2 0 0 1-2-2v-3" }]],
  download: [["path", { d: "M12 3v12M7 10l5 5 5-5M5 21h14" }]],
  trash: [["path", { d: "M3 6h18M8 6V4h8v2M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6" }]],
  copy: [["rect", { x: 9, y: 9, width: 13, height: 13, rx: 2 }], ["path", { d: "M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" }]],
  x: [["path", { d: "M18 6L6 18M6 6l12 12" }]],
  alert: [["path", { d: "M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z" }], ["path", { d: "M12 9v4M12 17h.01" }]],
  back: [["path", { d: "M19 12H5M12 19l-7-7 7-7" }]],
  logo: [
    ["circle", { cx: 12, cy: 12, r: 9.5 }],
    ["circle", { cx: 12, cy: 12, r: 5.5 }],
    ["path", { d: "M12 12l6.5-6.5" }],
    ["circle", { cx: 12, cy: 12, r: 1.6, fill: "currentColor" }],
  ],
};
