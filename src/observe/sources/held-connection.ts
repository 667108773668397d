// A reader holding one connection to a dependency for the whole run, opened as soon as the
// dependency is up: one whose connection table the app fills (the connection-cap stories) would
// refuse a reader that connects anew each second, and the run would lose the very counters that
// tell the story. It reconnects after a failure (a killed and restarted server), resolving the
// endpoint again (a restarted container's published port changes). memcached `stats` and Redis
// INFO are both one command and one reply on a text protocol.
import { connect, type Socket } from "node:net";
import type { Endpoint } from "../../runtime/types.js";

export interface TextProtocol<T> {
  /** names the server in errors: "memcached", "redis" */
  name: string;
  /** the command that asks for the counters, with its line end */
  command: string;
  /** what a polite client says before closing */
  quit: string;
  /** The reply so far: undefined to wait for more, an Error the server answered, or the counters. */
  reply(buf: string): T | Error | undefined;
}

export class HeldConnectionReader<T> {
  private sock: Socket | undefined;
  private pending: { buf: string; resolve: (s: T) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly protocol: TextProtocol<T>,
    private readonly endpoint: () => Promise<Endpoint>,
    private readonly timeoutMs = 800,
  ) {}

  /** Connects now (bounded); a failure is left for read() to retry. */
  async open(): Promise<void> {
    if (this.sock) return;
    const ep = await this.endpoint();
    const name = this.protocol.name;
    await new Promise<void>((resolve, reject) => {
      const sock = connect(ep.port, ep.host);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`${name} on ${ep.host}:${ep.port}: no connection in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        this.sock = sock;
        resolve();
      });
      // A socket given up on (timed out, replaced) may still report: only the current one counts.
      sock.on("error", (e) => {
        clearTimeout(timer);
        if (this.sock === sock) this.drop(e);
        reject(e);
      });
      sock.on("close", () => {
        if (this.sock === sock) this.drop(new Error(`${name} on ${ep.host}:${ep.port}: connection closed`));
      });
      sock.on("data", (d: Buffer) => {
        // A server at its connection cap may write an error unasked and close: with no read in
        // flight there is nothing to answer, and the close drops the socket.
        const p = this.pending;
        if (!p || this.sock !== sock) return;
        p.buf += d.toString("latin1");
        const reply = this.protocol.reply(p.buf);
        if (reply === undefined) return;
        this.pending = undefined;
        if (reply instanceof Error) {
          this.drop(new Error(`${name}: ${reply.message}`));
          p.reject(reply);
        } else p.resolve(reply);
      });
    });
  }

  async read(): Promise<T> {
    await this.open();
    const sock = this.sock as Socket;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(new Error(`${this.protocol.name}: no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = {
        buf: "",
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      sock.write(this.protocol.command);
    });
  }

  /** Forgets the connection (the next read reconnects) and fails a read in flight. */
  private drop(e: Error): void {
    this.sock?.destroy();
    this.sock = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  async close(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    sock?.end(this.protocol.quit);
    sock?.destroy();
  }
}
