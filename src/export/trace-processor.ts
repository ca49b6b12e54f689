/**
 * Perfetto's trace_processor as a second SQL engine (`kvmtax sql --engine perfetto`) and as the checker of
 * our Perfetto exports (test/e2e/trace-processor.test.ts).
 *
 * No registry ships trace_processor; `npm run trace-processor` (scripts/trace-processor.sh) builds
 * trace_processor_shell from the vendored Perfetto v32.0 source into a cache outside the repository:
 * $KVMTAX_TRACE_PROCESSOR (the cache directory, or the binary itself) or ~/.cache/kvmtax/trace-processor.
 *
 * How a query runs: the shell is started as `trace_processor_shell --httpd --http-port PORT TRACE` (it loads
 * the trace, then serves its RPC on 127.0.0.1:PORT; PORT is a free port the OS gave us); we POST a QueryArgs
 * message to /query and read back QueryResult messages (chunked; several messages concatenated are one
 * message whose repeated fields are appended, which is how we decode them). Cells come typed (null, int64,
 * double, string, blob), so results keep their types, unlike the shell's -q CSV printout (strings not
 * escaped, doubles with 6 decimals). The messages are a subset of Perfetto's
 * protos/perfetto/trace_processor/trace_processor.proto (field numbers from there), parsed with protobufjs.
 * The shell is ended (SIGTERM to its pid) when the engine is closed.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import protobuf from 'protobufjs';
import { KvmtaxError } from '../core/errors.js';

const PROTO = `
syntax = "proto2";
package perfetto.protos;
message QueryArgs {
  optional string sql_query = 1;
  optional string tag = 3;
}
message QueryResult {
  repeated string column_names = 1;
  optional string error = 2;
  message CellsBatch {
    enum CellType { CELL_INVALID = 0; CELL_NULL = 1; CELL_VARINT = 2; CELL_FLOAT64 = 3; CELL_STRING = 4; CELL_BLOB = 5; }
    repeated CellType cells = 1 [packed = true];
    repeated int64 varint_cells = 2 [packed = true];
    repeated double float64_cells = 3 [packed = true];
    repeated bytes blob_cells = 4;
    optional string string_cells = 5;
    optional bool is_last_batch = 6;
  }
  repeated CellsBatch batch = 3;
  optional uint32 statement_count = 4;
  optional uint32 statement_with_output_count = 5;
}
message StatusResult {
  optional string loaded_trace_name = 1;
  optional string human_readable_version = 2;
  optional int32 api_version = 3;
}
`;

let root: protobuf.Root | undefined;
const messages = () => {
  root ??= protobuf.parse(PROTO, { keepCase: true }).root;
  return {
    QueryArgs: root.lookupType('perfetto.protos.QueryArgs'),
    QueryResult: root.lookupType('perfetto.protos.QueryResult'),
    StatusResult: root.lookupType('perfetto.protos.StatusResult'),
  };
};

export const SHELL_NAME = 'trace_processor_shell';
export const BUILD_HINT = 'run npm run trace-processor to build it (or set KVMTAX_TRACE_PROCESSOR to its directory or path)';

/** The default cache directory of the build. */
export function defaultCacheDir(): string {
  return path.join(os.homedir(), '.cache', 'kvmtax', 'trace-processor');
}

/**
 * The trace_processor_shell binary, or undefined when it is not built: $KVMTAX_TRACE_PROCESSOR (a directory
 * holding bin/trace_processor_shell or trace_processor_shell, or the binary's own path), else the default cache.
 */
export function findShell(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.KVMTAX_TRACE_PROCESSOR || defaultCacheDir();
  const candidates = [base, path.join(base, 'bin', SHELL_NAME), path.join(base, SHELL_NAME)];
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (st.isFile() && (st.mode & 0o111) !== 0) return c;
    } catch { /* not there */ }
  }
  return undefined;
}

export interface TpResult { columns: string[]; types: string[]; rows: unknown[][] }

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before the shell binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POST `body` to the shell's RPC and read the whole answer. node:http rather than fetch: the shell answers
 * /status with both `Transfer-Encoding: identity` and a Content-Length, which fetch (undici) and Node's
 * strict parser refuse; insecureHTTPParser accepts it. /query answers chunked.
 */
function post(port: number, what: string, body: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: what, method: 'POST', agent: false, insecureHTTPParser: true,
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`HTTP ${res.statusCode} from ${what}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One trace loaded in a trace_processor_shell serving its HTTP RPC. */
export class TraceProcessor {
  private stderr = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(private readonly child: ChildProcess, readonly port: number, readonly trace: string) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-8192); });
    child.on('exit', (code, signal) => { this.exited = { code, signal }; process.off('exit', this.onExit); });
    // a kvmtax that exits without close() (an error, Ctrl-C) ends the shell it started
    process.on('exit', this.onExit);
  }

  private readonly onExit = () => { if (!this.exited) this.child.kill('SIGKILL'); };

  /** Start the shell on `trace` and wait until it has loaded it and answers. */
  static async open(trace: string, o: { shell?: string } = {}): Promise<TraceProcessor> {
    const shell = o.shell ?? findShell();
    if (!shell) throw new KvmtaxError(`trace_processor_shell not found: ${BUILD_HINT}`);
    if (!fs.existsSync(trace)) throw new KvmtaxError(`${trace}: no such file`);
    const port = await freePort();
    const child = spawn(shell, ['--httpd', '--http-port', String(port), trace], { stdio: ['ignore', 'ignore', 'pipe'] });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const tp = new TraceProcessor(child, port, trace);
    let failed: Error | undefined;
    void spawnError.then((e) => { failed = e; });
    for (;;) {
      if (failed) throw new KvmtaxError(`${shell}: ${failed.message}`);
      if (tp.exited) throw new KvmtaxError(`trace_processor could not load ${trace}: ${tp.lastError() || `exit ${tp.exited.code ?? tp.exited.signal}`}`);
      try {
        await post(port, '/status', new Uint8Array(0));
        return tp;
      } catch (e) {
        // not listening yet: still loading the trace
        if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED') {
          await tp.close();
          throw new KvmtaxError(`trace_processor: ${(e as Error).message}`);
        }
      }
      await sleep(100);
    }
  }

  /** The last error line the shell printed (its loading errors), without its log prefix. */
  private lastError(): string {
    const lines = this.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    const err = lines.filter((l) => /error|fail|invalid|unsupported/i.test(l)).pop() ?? lines.pop() ?? '';
    return err.replace(/^\[[^\]]*\]\s*/, '').replace(/^\S+\.cc:\d+\s*/, '');
  }

  /** The shell's version line (StatusResult.human_readable_version). */
  async version(): Promise<string> {
    const m = messages().StatusResult.decode(await post(this.port, '/status', new Uint8Array(0))) as unknown as { human_readable_version?: string };
    return m.human_readable_version ?? '';
  }

  /** Run one query (or several statements: the result is the last one's). */
  async query(sql: string): Promise<TpResult> {
    const { QueryArgs, QueryResult } = messages();
    const body = QueryArgs.encode(QueryArgs.create({ sql_query: sql, tag: 'kvmtax' })).finish();
    let buf: Uint8Array;
    try {
      buf = await post(this.port, '/query', body);
    } catch (e) {
      throw new KvmtaxError(`trace_processor: query failed: ${(e as Error).message}${this.exited ? ` (it exited: ${this.lastError()})` : ''}`);
    }
    const m = QueryResult.toObject(QueryResult.decode(buf), { longs: String, defaults: false }) as {
      column_names?: string[]; error?: string;
      batch?: Array<{ cells?: number[]; varint_cells?: Array<bigint | string | number>; float64_cells?: number[]; blob_cells?: Uint8Array[]; string_cells?: string }>;
    };
    if (m.error) throw new KvmtaxError(`SQL (trace_processor): ${m.error.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')}`);
    const columns = m.column_names ?? [];
    const cells: unknown[] = [];
    const kinds: number[] = [];
    for (const b of m.batch ?? []) {
      // strings of a batch are one string, each terminated by a NUL
      const strs = b.string_cells ? b.string_cells.split('\0') : [];
      let iv = 0, fv = 0, sv = 0, bv = 0;
      for (const c of b.cells ?? []) {
        kinds.push(c);
        switch (c) {
          case 1: cells.push(null); break;
          case 2: cells.push(intValue(b.varint_cells![iv++]!)); break;
          case 3: cells.push(b.float64_cells![fv++]); break;
          case 4: cells.push(strs[sv++]); break;
          case 5: cells.push(Buffer.from(b.blob_cells![bv++]!).toString('base64')); break;
          default: throw new KvmtaxError(`trace_processor: a cell of unknown type ${c} in the query result`);
        }
      }
    }
    const n = columns.length;
    const rows: unknown[][] = [];
    if (n > 0) for (let i = 0; i + n <= cells.length; i += n) rows.push(cells.slice(i, i + n));
    const TYPE = ['', 'NULL', 'BIGINT', 'DOUBLE', 'VARCHAR', 'BLOB'];
    const types = columns.map((_, c) => {
      const seen = new Set<number>();
      for (let i = c; i < kinds.length; i += n) if (kinds[i] !== 1) seen.add(kinds[i]!);
      if (seen.size === 0) return 'NULL';
      if (seen.size === 1) return TYPE[[...seen][0]!]!;
      return [...seen].sort().map((k) => TYPE[k]).join('|');
    });
    return { columns, types, rows };
  }

  /** End the shell (the one this object started). */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    await Promise.race([done, sleep(2000)]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** An int64 cell as a number while exact, else its decimal string (as the DuckDB engine gives them). */
function intValue(v: bigint | string | number): number | string {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
}

/** Whether a file is a Perfetto protobuf trace trace_processor can open as it is (name or first bytes). */
export function isPerfettoFile(file: string): boolean {
  if (/\.(pftrace|perfetto-trace|perfetto)(\.gz)?$/.test(file)) return true;
  const fd = fs.openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    const n = fs.readSync(fd, h, 0, h.length, 0);
    // a sequence of `TracePacket packet = 1` fields: tag 0x0a, a length varint, then the packet
    if (n < 3 || h[0] !== 0x0a) return false;
    let p = 1, len = 0, shift = 0;
    for (;;) {
      if (p >= n || shift > 28) return false;
      const c = h[p++]!;
      len |= (c & 0x7f) << shift;
      if (!(c & 0x80)) break;
      shift += 7;
    }
    return len > 0;
  } finally {
    fs.closeSync(fd);
  }
}

export interface PerfettoSqlOptions {
  /** the shell to use (default: findShell()) */
  shell?: string;
  /** options for exporting a trace that is not a Perfetto file */
  exportOptions?: Record<string, unknown>;
}

/**
 * Run `query` in trace_processor over `trace`: a Perfetto file as it is; any other capture is first exported
 * with `kvmtax export --perfetto` to a temporary .pftrace (removed afterwards), so that its tables are ours
 * (process per VM, thread per vCPU, slices "exit: REASON", counters).
 */
export async function runPerfettoSql(query: string, trace: string, o: PerfettoSqlOptions = {}): Promise<TpResult> {
  const shell = o.shell ?? findShell();
  if (!shell) throw new KvmtaxError(`--engine perfetto: trace_processor_shell not found: ${BUILD_HINT}`);
  if (!fs.existsSync(trace)) throw new KvmtaxError(`${trace}: no such file`);
  let file = trace;
  let tmp: string | undefined;
  if (!isPerfettoFile(trace)) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-tp-'));
    file = path.join(tmp, path.basename(trace).replace(/\.(xz|gz|zst)$/, '').replace(/\.[^.]*$/, '') + '.pftrace');
    const { exportPerfetto } = await import('./perfetto.js');
    await exportPerfetto([trace], file, o.exportOptions ?? {});
  }
  try {
    const tp = await TraceProcessor.open(file, { shell });
    try {
      return await tp.query(query);
    } finally {
      await tp.close();
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
