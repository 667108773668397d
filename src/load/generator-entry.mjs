// A load generator process, as generators.ts forks it. Plain JavaScript: a forked process does not
// inherit the parent's TypeScript loader (tsx, or vitest's), so this file registers tsx, as
// bin/cascade.js does, and loads the generator.
import { register } from "tsx/esm/api";

register();
await import("./generator.ts");
