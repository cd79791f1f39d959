// One-time host set-up for local sandboxes, shared by every server on the machine (default
// /var/lib/acontext/sandboxes): the allowlisted /etc skeleton every sandbox root is built on, and
// the read-only helper tree mounted at /.sbx (the creation chain, PID 1, the exec agent, the
// seccomp filter). The sandbox never sees the host /etc, /root, /home or any data dir. Sandbox
// set-up runs as the sandbox's own unmapped uid, so every directory on the way to a sandbox must
// be searchable (0711); nothing here is secret.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import agent from "./agent.pl";
import bind from "./bind.pl";
import create from "./create.pl";
import init from "./init.pl";
import mount from "./mount.pl";
import { seccompFilter } from "./seccomp.js";

const run = promisify(execFile);

/** Bump when the skeleton's recipe changes, so existing data dirs rebuild it. */
const SKELETON_VERSION = "3";

let helperCache: { folder: string; files: Record<string, Buffer> } | undefined;

/**
 * The helper tree's files, made once. Its folder is named by their digest: a new agent or seccomp
 * filter (an upgrade) gets a new folder by itself, while sandboxes of a running older server keep theirs.
 */
function helperTree(): { folder: string; files: Record<string, Buffer> } {
  if (!helperCache) {
    const perl = { "agent.pl": agent, "bind.pl": bind, "create.pl": create, "init.pl": init, "mount.pl": mount };
    const files: Record<string, Buffer> = { "seccomp.bpf": seccompFilter() };
    for (const [name, text] of Object.entries(perl)) files[name] = Buffer.from(text);
    const hash = createHash("sha256");
    for (const [name, content] of Object.entries(files)) hash.update(`${name}\0${content.length}\0`).update(content);
    helperCache = { folder: `helper-${hash.digest("hex").slice(0, 16)}`, files };
  }
  return helperCache;
}

/** /etc entries copied into the skeleton: what programs need, nothing secret. */
const ETC_ALLOWLIST = [
  "alternatives",
  "ca-certificates",
  "ca-certificates.conf",
  "ssl",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "nsswitch.conf",
  "host.conf",
  "gai.conf",
  "protocols",
  "services",
  "networks",
  "ethertypes",
  "mime.types",
  "magic",
  "magic.mime",
  "localtime",
  "timezone",
  "profile",
  "profile.d",
  "bash.bashrc",
  "environment",
  "inputrc",
  "shells",
  "login.defs",
  "debian_version",
  "os-release",
  "issue",
  "terminfo",
  "skel",
  "python3",
  "perl",
  "xattr.conf",
  "locale.alias",
  "mke2fs.conf",
  "iproute2",
  "fonts",
  "xml",
  "sgml",
];

export interface HostLayout {
  root: string;
  base: string;
  helper: string;
  /**
   * One claim file per uid range in use (holding its sandbox's folder): machine-wide, whatever
   * the state dir, so no two sandboxes of any servers share a range; on /run, as the ranges are
   * free again after a reboot.
   */
  uidClaims: string;
}

const UID_CLAIMS = "/run/acontext/uid-ranges";

export function hostLayout(stateDir: string): HostLayout {
  return {
    root: stateDir,
    base: join(stateDir, `base-v${SKELETON_VERSION}`),
    helper: join(stateDir, helperTree().folder),
    uidClaims: process.getuid?.() === 0 ? UID_CLAIMS : join(stateDir, "uid"),
  };
}

/**
 * Builds the skeleton and helper tree once per machine (and again when the recipe changes). Built
 * in temp folders and renamed into place, so servers starting together never see half of one.
 */
export async function ensureHost(stateDir: string): Promise<HostLayout> {
  const layout = hostLayout(stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o711 });
  await chmod(stateDir, 0o711);
  // As root, sandboxes are set up as their own uids; as a user, as that user.
  if (process.getuid?.() === 0) await assertSearchable(dirname(stateDir));
  await mkdir(layout.uidClaims, { recursive: true, mode: 0o700 });
  if (existsSync(layout.base) && existsSync(layout.helper)) return layout;

  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  const base = layout.base + suffix;
  const helper = layout.helper + suffix;
  const script = `set -e
B0="$1"; H0="$2"
mkdir -p "$B0" && cd "$B0"
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64
mkdir -p usr etc home/user root tmp var/tmp var/log var/cache var/lib run proc dev sys workspace opt srv mnt media .sbx
chmod 700 root; chmod 1777 tmp var/tmp; [ "$(id -u)" != 0 ] || chown 1000:1000 home/user
for f in ${ETC_ALLOWLIST.join(" ")}; do [ -e "/etc/$f" ] && cp -a "/etc/$f" etc/ || true; done
rm -rf etc/ssl/private
printf 'root:x:0:0:root:/root:/bin/bash\\nuser:x:1000:1000:user:/home/user:/bin/bash\\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\\n' > etc/passwd
printf 'root:x:0:\\nuser:x:1000:\\nnogroup:x:65534:\\n' > etc/group
printf '127.0.0.1 localhost sandbox\\n::1 localhost ip6-localhost\\n' > etc/hosts
echo sandbox > etc/hostname; : > etc/resolv.conf; ln -sf /proc/self/mounts etc/mtab
mkdir -p "$H0/usr" "$H0/etc"
ln -s usr/bin "$H0/bin"; ln -s usr/sbin "$H0/sbin"; ln -s usr/lib "$H0/lib"; ln -s usr/lib64 "$H0/lib64"
`;
  try {
    await run("/bin/sh", ["-c", script, "setup", base, helper]);
    // In the read-only helper tree, which an exec runs from before it enters the sandbox root.
    for (const [name, content] of Object.entries(helperTree().files)) await writeFile(join(helper, name), content, { mode: 0o644 });
    await renameUnlessThere(base, layout.base);
    await renameUnlessThere(helper, layout.helper);
  } finally {
    await rm(base, { recursive: true, force: true });
    await rm(helper, { recursive: true, force: true });
  }
  return layout;
}

/** Every folder above the state dir must let others pass (o+x), or sandbox set-up cannot reach it. */
async function assertSearchable(dir: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) {
      throw new Error(
        `${current} does not let other users pass (o+x), so sandboxes under it cannot be set up; use another ACONTEXT_SANDBOX_DIR or chmod o+x it`,
      );
    }
    if (current === dirname(current)) return;
  }
}

/** Renames `from` to `to` unless another server put `to` there first. */
async function renameUnlessThere(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
  }
}
