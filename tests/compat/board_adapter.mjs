// A minimal in-memory server adapter for Bull Board (@bull-board/api): it collects the routes
// Bull Board registers and calls their handlers directly, so the board's own API can be tested
// without an HTTP framework. Used by board.mjs (BullMQ adapter) and bull/board.mjs (Bull's).

/** Collects the routes Bull Board registers and answers `call(method, path, query)`. */
export class MemoryAdapter {
  routes = [];
  setQueues(q) { this.queues = q; return this; }
  setViewsPath() { return this; }
  setStaticPath() { return this; }
  setUIConfig(c) { this.uiConfig = c; return this; }
  setEntryRoute() { return this; }
  setErrorHandler() { return this; }
  setApiRoutes(routes) { this.routes = routes; return this; }

  async call(method, path, query = {}) {
    for (const r of this.routes) {
      const methods = [r.method].flat();
      for (const pattern of [r.route].flat()) {
        const names = [];
        const re = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
        const m = path.match(re);
        if (!m || !methods.includes(method)) continue;
        const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
        const res = await r.handler({ queues: this.queues, uiConfig: this.uiConfig ?? {}, query,
          params, body: {}, headers: {} });
        if (res.status && res.status >= 400) throw new Error(`${path}: ${JSON.stringify(res)}`);
        return res.body;
      }
    }
    throw new Error(`no Bull Board route for ${method} ${path}`);
  }
}
