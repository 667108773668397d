// A minimal keep-alive HTTP/1.1 client connection on node:net: one request at a time, a
// request buffer built once per run, and a byte-level response framer (Content-Length, chunked,
// or to EOF). No per-request allocation on the read path: every socket of a thread reads into
// one shared buffer (`onread`), which is safe because each read is consumed synchronously.
import net from "node:net";

/** The bytes of one request, built once and written for every arrival. */
export function requestBytes(method: string, url: URL): Buffer {
  const target = `${url.pathname || "/"}${url.search}`;
  const body = method === "POST" || method === "PUT" ? "Content-Length: 0\r\n" : "";
  return Buffer.from(
    `${method} ${target} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: cascade-load\r\nAccept: */*\r\n${body}\r\n`,
    "latin1",
  );
}

// Framer states.
const HEAD = 0;
const BODY = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CRLF = 4;
const TRAILER = 5;
const TO_EOF = 6;

/** feed() results */
export const NEED_MORE = 0;
export const COMPLETE = 1;
export const BAD = -1;

const lower = (b: number) => b | 0x20;

/** `name` (lowercase ASCII) equals buf[from, from+name.length) case-insensitively. */
function nameIs(buf: Uint8Array, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(buf[from + i] as number) !== name.charCodeAt(i)) return false;
  return true;
}

/** buf[from, to) contains `word` (lowercase ASCII) case-insensitively. */
function contains(buf: Uint8Array, from: number, to: number, word: string): boolean {
  outer: for (let i = from; i + word.length <= to; i++) {
    for (let j = 0; j < word.length; j++) if (lower(buf[i + j] as number) !== word.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}

/**
 * Frames one response at a time from a byte stream. feed() reports COMPLETE at the last byte of
 * a response; bytes after it (a server that answers what was not asked) are BAD, since this
 * client never pipelines. Interim 1xx responses are skipped.
 */
export class ResponseFramer {
  status = 0;
  /** the server asked to close the connection after this response */
  close = false;
  private state = HEAD;
  /** bytes of "\r\n\r\n" matched so far at the end of the header block */
  private eoh = 0;
  /** header bytes carried over from earlier reads (rare: a header split across reads) */
  private carry: Buffer | null = null;
  private remaining = 0;
  private chunkDigits = 0;
  private inExt = false;
  private lineLen = 0;

  reset(): void {
    this.state = HEAD;
    this.eoh = 0;
    this.carry = null;
    this.status = 0;
    this.close = false;
  }

  /** True when EOF completes the response in progress (a body delimited by the close). */
  eof(): boolean {
    return this.state === TO_EOF;
  }

  feed(buf: Uint8Array, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case HEAD: {
          const from = i;
          let eoh = this.eoh;
          while (i < end && eoh < 4) {
            const b = buf[i++] as number;
            if (b === (eoh === 0 || eoh === 2 ? 13 : 10)) eoh++;
            else eoh = b === 13 ? 1 : 0;
          }
          this.eoh = eoh;
          if (eoh < 4) {
            this.carry = this.carry ? Buffer.concat([this.carry, buf.subarray(from, i)]) : Buffer.from(buf.subarray(from, i));
            if (this.carry.length > 65536) return BAD;
            return NEED_MORE;
          }
          this.eoh = 0;
          let ok: boolean;
          if (this.carry) {
            const head = Buffer.concat([this.carry, buf.subarray(from, i)]);
            this.carry = null;
            ok = this.parseHead(head, 0, head.length);
          } else {
            ok = this.parseHead(buf, from, i);
          }
          if (!ok) return BAD;
          if (this.state === HEAD) continue; // interim 1xx: the real response follows
          if (this.state === BODY && this.remaining === 0) return this.done(i, end);
          break;
        }
        case BODY: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) return this.done(i, end);
          break;
        }
        case CHUNK_SIZE: {
          const b = buf[i++] as number;
          if (b === 10) {
            if (this.chunkDigits === 0) return BAD;
            this.chunkDigits = 0;
            this.inExt = false;
            if (this.remaining === 0) {
              this.state = TRAILER;
              this.lineLen = 0;
            } else this.state = CHUNK_DATA;
          } else if (this.inExt || b === 13) {
            // chunk extension or the CR before LF: ignored
          } else if (b === 59 /* ; */ || b === 32 || b === 9) {
            this.inExt = true;
          } else {
            const d = hexDigit(b);
            if (d < 0 || this.chunkDigits >= 12) return BAD;
            this.remaining = this.remaining * 16 + d;
            this.chunkDigits++;
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.state = CHUNK_CRLF;
            this.lineLen = 0;
          }
          break;
        }
        case CHUNK_CRLF: {
          const b = buf[i++] as number;
          if (b === 10) {
            this.state = CHUNK_SIZE;
            this.remaining = 0;
          } else if (b !== 13) return BAD;
          break;
        }
        case TRAILER: {
          const b = buf[i++] as number;
          if (b === 10) {
            if (this.lineLen === 0) return this.done(i, end);
            this.lineLen = 0;
          } else if (b !== 13) this.lineLen++;
          break;
        }
        default: // TO_EOF: everything until the close is body
          return NEED_MORE;
      }
    }
    return NEED_MORE;
  }

  private done(i: number, end: number): number {
    this.state = HEAD;
    return i === end ? COMPLETE : BAD;
  }

  /** Status line and the three headers that frame the body. */
  private parseHead(buf: Uint8Array, from: number, to: number): boolean {
    // "HTTP/1.x SSS"
    if (to - from < 12 || buf[from] !== 72 /* H */ || buf[from + 4] !== 47 /* / */) return false;
    const http10 = buf[from + 7] === 48; /* '0' */
    let status = 0;
    for (let j = from + 9; j < from + 12; j++) {
      const d = (buf[j] as number) - 48;
      if (d < 0 || d > 9) return false;
      status = status * 10 + d;
    }
    let length = -1;
    let chunked = false;
    let close = http10;
    let line = from;
    while (line < to && buf[line] !== 10) line++;
    line++;
    while (line < to) {
      let eol = line;
      while (eol < to && buf[eol] !== 10) eol++;
      let colon = line;
      while (colon < eol && buf[colon] !== 58 /* : */) colon++;
      if (colon < eol) {
        if (nameIs(buf, line, colon, "content-length")) {
          length = 0;
          for (let j = colon + 1; j < eol; j++) {
            const d = (buf[j] as number) - 48;
            if (d >= 0 && d <= 9) length = length * 10 + d;
            else if (buf[j] !== 32 && buf[j] !== 9 && buf[j] !== 13) return false;
          }
        } else if (nameIs(buf, line, colon, "transfer-encoding")) {
          chunked = contains(buf, colon + 1, eol, "chunked");
        } else if (nameIs(buf, line, colon, "connection")) {
          if (contains(buf, colon + 1, eol, "close")) close = true;
          else if (contains(buf, colon + 1, eol, "keep-alive")) close = false;
        }
      }
      line = eol + 1;
    }
    if (status >= 100 && status < 200 && status !== 101) return true; // interim: stay in HEAD
    this.status = status;
    this.close = close;
    if (status === 204 || status === 304) {
      this.state = BODY;
      this.remaining = 0;
    } else if (chunked) {
      this.state = CHUNK_SIZE;
      this.remaining = 0;
      this.chunkDigits = 0;
      this.inExt = false;
    } else if (length >= 0) {
      this.state = BODY;
      this.remaining = length;
    } else {
      this.state = TO_EOF;
      this.close = true;
    }
    return true;
  }
}

function hexDigit(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  const l = b | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** What a connection tells its owner. Called synchronously from socket events. */
export interface ConnectionSink {
  /** A whole response arrived for the request in flight. */
  onResponse(c: Connection, status: number): void;
  /** The request in flight is lost: connection refused, reset, closed early, or garbage. */
  onFailure(c: Connection): void;
  /** The connection is gone (after onResponse/onFailure if a request was in flight). */
  onClosed(c: Connection): void;
}

let sharedReadBuffer: Buffer | undefined;

export interface Endpoint {
  /** numeric address (no DNS lookup per connection) */
  host: string;
  port: number;
}

/**
 * One socket, at most one request in flight. Owner state (`intended`, `seq`, `idleSince`)
 * lives here too so the driver needs no per-request objects.
 */
export class Connection {
  /** a request is in flight */
  busy = false;
  /** closed or closing: never used again */
  dead = false;
  /** intended send time (ms from the run start) of the request in flight */
  intended = 0;
  /** bumped per request: a deadline entry with an older seq is stale */
  seq = 0;
  /** ms from the run start when it became idle */
  idleSince = 0;
  private readonly socket: net.Socket;
  private readonly framer = new ResponseFramer();

  constructor(
    ep: Endpoint,
    private readonly request: Buffer,
    private readonly sink: ConnectionSink,
  ) {
    sharedReadBuffer ??= Buffer.allocUnsafe(64 * 1024);
    this.socket = net.connect({
      host: ep.host,
      port: ep.port,
      noDelay: true,
      onread: { buffer: sharedReadBuffer, callback: (n, buf) => this.onRead(n, buf) },
    });
    this.socket.on("end", () => this.onEnd());
    this.socket.on("error", () => this.lost());
    this.socket.on("close", () => this.lost());
  }

  /** Write the request (queued by net until the connect completes). */
  send(intended: number): void {
    this.busy = true;
    this.intended = intended;
    this.seq++;
    this.framer.reset();
    this.socket.write(this.request);
  }

  /** Close now; the request in flight (if any) is the caller's to count. No callbacks follow. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.busy = false;
    this.socket.destroy();
  }

  /** Always true: keep reading (false would pause the socket). */
  private onRead(n: number, buf: Uint8Array): boolean {
    if (this.dead) return true;
    if (!this.busy) {
      this.fail(); // bytes nobody asked for
      return true;
    }
    const r = this.framer.feed(buf, 0, n);
    if (r === NEED_MORE) return true;
    if (r === BAD) this.fail();
    else if (this.framer.close) this.lastResponse();
    else {
      this.busy = false;
      this.sink.onResponse(this, this.framer.status);
    }
    return true;
  }

  private onEnd(): void {
    if (this.dead) return;
    if (this.busy && this.framer.eof()) this.lastResponse();
    else this.lost();
  }

  /** A response after which the connection closes: dead first, so the owner does not reuse it. */
  private lastResponse(): void {
    this.destroy();
    this.sink.onResponse(this, this.framer.status);
    this.sink.onClosed(this);
  }

  /** The socket ended, errored or closed by itself. */
  private lost(): void {
    if (this.dead) return;
    if (this.busy) this.fail();
    else this.closeAndTell();
  }

  private fail(): void {
    if (this.busy) {
      this.busy = false;
      this.sink.onFailure(this);
    }
    this.closeAndTell();
  }

  private closeAndTell(): void {
    if (this.dead) return;
    this.destroy();
    this.sink.onClosed(this);
  }
}
