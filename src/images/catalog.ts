// Which image each built-in role runs, for both sources:
//  - official: the upstream images, pulled from a registry (online users);
//  - offline: built here from Debian packages on a debootstrap base (air-gapped machines, CI).
import type { ServiceKind } from "../scenario/schema.js";

export type ImageSource = "official" | "offline";
export type Role = "memcached" | "redis" | "postgres" | "haproxy" | "toxiproxy" | "app" | "holder" | "reaper";

export const ROLES: readonly Role[] = ["memcached", "redis", "postgres", "haproxy", "toxiproxy", "app", "holder", "reaper"];

/** Roles built here on the Node base, for either source (no upstream image of their own). */
export const NODE_ROLES = ["app", "reaper"] as const;

/** The Toxiproxy release both paths use; the offline build go-installs this exact module version. */
export const TOXIPROXY_VERSION = "v2.12.0";
export const TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server";

export const OFFICIAL: Record<Exclude<Role, (typeof NODE_ROLES)[number]>, string> = {
  memcached: "memcached:1.6",
  redis: "redis:7",
  postgres: "postgres:16",
  haproxy: "haproxy:2.8",
  toxiproxy: `ghcr.io/shopify/toxiproxy:${TOXIPROXY_VERSION.slice(1)}`,
  // A pod's pause container: ~300 KB, sleeps and reaps. It holds a replica's network namespace.
  holder: "registry.k8s.io/pause:3.10",
};

/** Base image the reference app and the reaper are built on, online. */
export const OFFICIAL_NODE = "node:20-slim";

export const REPO = "cascade";
/** Stable alias of the newest build of a role; content tags sit beside it. */
export const localRef = (role: Role | "base" | "node", tag = "latest") => `${REPO}/${role}:${tag}`;

export function roleOf(kind: ServiceKind): Role | undefined {
  return kind === "image" ? undefined : kind;
}
