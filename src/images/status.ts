// What `images list` and `doctor` show: each role's expected image and whether it exists.
import { ensureImages } from "./build.js";
import { ROLES, type ImageSource } from "./catalog.js";

export async function checkImages(source: ImageSource): Promise<Array<{ role: string; ref: string; present: boolean }>> {
  const { results } = await ensureImages({ source, roles: ROLES, progress: () => {}, dryRun: true });
  return results.map((r) => ({ role: r.role, ref: r.ref, present: r.action === "present" }));
}
