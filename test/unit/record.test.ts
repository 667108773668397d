import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FILES, RecordUnwritable, RunRecord } from "../../src/observe/record.js";

describe("the run record on a disk that fills up", () => {
  it("the first failed append is said once, in one line, and stops nothing else from being tried", () => {
    const root = mkdtempSync(join(tmpdir(), "cascade-record-"));
    const record = new RunRecord(root, "full", new Date("2026-11-26T00:00:00Z"), "abcd1234");
    // /dev/full answers every write with ENOSPC, as a full disk does.
    rmSync(join(record.dir, FILES.samples));
    symlinkSync("/dev/full", join(record.dir, FILES.samples));
    const told: string[] = [];
    record.onFailure = (why) => told.push(why);
    record.sample({ kind: "load", t: 0 });
    record.sample({ kind: "load", t: 1 });
    expect(told).toEqual([`cannot write ${join(record.dir, FILES.samples)}: ENOSPC (the disk is full)`]);
    expect(record.failure).toBe(told[0]);
    // Events go to their own file, which still had room; after a failure nothing more is appended.
    record.event({ type: "x" });
    expect(readFileSync(join(record.dir, FILES.events), "utf8")).toBe("");
  });

  it("a folder that cannot be made is one line, and says nothing was started", () => {
    const err = (() => {
      try {
        new RunRecord("/dev/full/reports", "x", new Date(), "abcd1234");
      } catch (e) {
        return e;
      }
    })() as RecordUnwritable;
    expect(err).toBeInstanceOf(RecordUnwritable);
    expect(err.started).toBe(false);
    expect(err.message).toMatch(/^cannot write the run record under \/dev\/full\/reports: ENOTDIR$/);
  });
});
