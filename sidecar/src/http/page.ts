/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:10vh auto;padding:0 1rem;color:#1f2328}h1{font-size:1.5rem}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}footer{margin-top:2rem;color:#656d76;font-size:.875rem}ul.idp{list-style:none;padding:0}ul.idp a{display:block;margin:.5rem 0;padding:.75rem 1rem;border:1px solid #d0d7de;border-radius:6px;text-decoration:none;color:#0969da;font-weight:600}ul.idp a:hover{background:#f6f8fa}button{font:inherit;padding:.5rem 1rem;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}table{border-collapse:collapse}th{text-align:left;font-weight:600;padding:.25rem 1rem .25rem 0;vertical-align:top}td{padding:.25rem 0;overflow-wrap:anywhere}';

/**
 * A small self-contained page of the gateway: a title, body HTML the caller has escaped, and the
 * request id to quote to support. No scripts, no external resources.
 */
export function gatewayPage(title: string, bodyHtml: string, requestId: string, headHtml = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">${headHtml}<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${bodyHtml}<footer>Request ID <code>${escapeHtml(requestId)}</code> &middot; Gatehouse</footer></body></html>`;
}
