#!/usr/bin/env node
// Entry point: run the TypeScript CLI through tsx so there is no build step between edit and run.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");
