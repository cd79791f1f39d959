// Local sandboxes run by an ordinary user (here `nobody`): the real server, started as that user,
// makes sandboxes with what the kernel lets users have (namespaces, one uid, rlimits instead of
// cgroups) and says which limits hold. Needs root to become another user; skipped otherwise.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { needs } from "../helpers/requirements.js";
import { forkUntilRefused } from "../helpers/sandbox.js";
import { call, type ServerProcess, startServerProcess, uploadForm } from "../helpers/server.js";

const NOBODY = { uid: 65534, gid: 65534 };
const asNobody = needs(
  "local sandboxes as an ordinary user",
  { ok: process.getuid?.() === 0, reason: "needs root, to start the server as nobody (the suite run as an ordinary user covers this itself)" },
  {
    ok: spawnSync("unshare", ["--user", "--map-root-user", "--mount", "--pid", "--fork", "true"], { ...NOBODY, cwd: "/" }).status === 0,
    reason: "this kernel does not let ordinary users make namespaces",
  },
);

const homes: string[] = [];
afterEach(async () => {
  for (const home of homes.splice(0)) await rm(home, { recursive: true, force: true });
});

async function nobodyServer(): Promise<{ server: ServerProcess; home: string }> {
  const home = await mkdtemp(join(tmpdir(), "acontext-nobody-"));
  homes.push(home);
  await chown(home, NOBODY.uid, NOBODY.gid);
  // No ACONTEXT_SANDBOX_DIR: a user's sandboxes live under ~/.acontext by default.
  const server = await startServerProcess({ dataDir: join(home, "data"), user: NOBODY, env: { HOME: home, PATH: process.env.PATH! } });
  return { server, home };
}

describe.skipIf(asNobody.skip)(asNobody.title, () => {
  it("runs the seed workflow, isolated, and says which limits hold", async () => {
    const { server, home } = await nobodyServer();
    const status = (await call(server, "GET", "/server/status")).body.data.sandboxes;
    expect(status.limits).toEqual({
      memory: "rlimit per process (RLIMIT_DATA)",
      pids: "rlimit per sandbox (RLIMIT_NPROC)",
      cpu: "not enforced (no cgroups for an ordinary user)",
      disk: "tmpfs size",
    });
    expect(status.isolation).toContain("your own uid");

    const created = (await call(server, "POST", "/sandbox", { limits: { memory_mb: 256, pids: 64, disk_mb: 64 } })).body.data;
    // What the sandbox asked for but does not get as a whole is said when it is made.
    expect(created.warnings).toEqual([
      "memory is limited per process (RLIMIT_DATA: private memory; shared mappings are not counted), not for the whole sandbox: no cgroups for an ordinary user",
      "cpu is not limited: no cgroups for an ordinary user",
    ]);
    const id = created.sandbox_id;
    const run = async (command: string) => (await call(server, "POST", `/sandbox/${id}/exec`, { command })).body.data;
    expect(await run("python3 -c 'print(sum(range(10)))'")).toMatchObject({ stdout: "45\n", exit_code: 0 });
    expect(await run("id -u; cat /proc/self/uid_map | tr -s ' '")).toMatchObject({ stdout: "0\n 0 65534 1\n" });
    expect((await run("cat /etc/shadow")).exit_code).not.toBe(0);
    expect((await run(`ls ${home}`)).exit_code).not.toBe(0);
    expect((await run("touch /usr/bin/planted")).exit_code).not.toBe(0);
    expect((await run("echo kept > /workspace/a; cat /workspace/a")).stdout).toBe("kept\n");
    const disk = (await call(server, "POST", "/disk")).body.data.id;
    await server.api(`/disk/${disk}/artifact`, { method: "POST", body: uploadForm("in.txt", "a\nb\nc\n", { file_path: "/" }) });
    await call(server, "POST", `/disk/${disk}/artifact/download_to_sandbox`, {
      file_path: "/",
      filename: "in.txt",
      sandbox_id: id,
      sandbox_path: "/workspace/",
    });
    expect((await run("wc -l < in.txt > n.txt; cat n.txt")).stdout).toBe("3\n");
    expect(
      (
        await call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, {
          sandbox_id: id,
          sandbox_path: "/workspace/",
          sandbox_filename: "n.txt",
          file_path: "/out/",
        })
      ).status,
    ).toBe(201);
    expect(await (await server.api(`/disk/${disk}/artifact/download?file_path=/out/n.txt`)).text()).toBe("3\n");
    expect((await run("unshare --user true")).exit_code).not.toBe(0);
    expect((await run("ip -o link | cut -d: -f2 | tr -d ' '")).stdout).toBe("lo\n");
    // Without cgroups: rlimits hold memory per process and the sandbox's processes.
    expect(await run("python3 -c 'bytearray(512 * 1024 * 1024)' 2>&1 | tail -1")).toMatchObject({ stdout: "MemoryError\n" });
    expect((await run("dd if=/dev/zero of=/workspace/fill bs=1M count=100 2>&1; rm /workspace/fill")).stdout).toContain("No space left on device");
    const { started, processes } = await forkUntilRefused(run, 100);
    // Refused before all were made (the limit is the user's: other processes of nobody count too) …
    expect(started).toBeLessThan(100);
    expect(processes).toBeGreaterThan(started); // … and counted (this sandbox's own processes besides) …
    expect(processes).toBeLessThanOrEqual(64); // … never more than the limit

    expect((await call(server, "DELETE", `/sandbox/${id}`)).body.data).toEqual({ status: 0, errmsg: "" });

    // Network through slirp4netns, where it is installed and the user may open /dev/net/tun (often 0666; not always).
    const online = await call(server, "POST", "/sandbox", { network: true });
    const slirp = spawnSync("sh", ["-c", "command -v slirp4netns"], { ...NOBODY }).status === 0;
    const tun = spawnSync("sh", ["-c", "exec 3<>/dev/net/tun"], { ...NOBODY }).status === 0;
    if (slirp && tun) {
      const address = await call(server, "POST", `/sandbox/${online.body.data.sandbox_id}/exec`, { command: "ip -o -4 addr show tap0 | awk '{print $4}'" });
      expect(address.body.data.stdout).toBe("10.0.2.100/24\n");
    } else {
      const missing = slirp ? "/dev/net/tun" : "needs slirp4netns";
      expect(online).toMatchObject({ status: 400, body: { msg: "parameter error", error: expect.stringContaining(missing) } });
    }
    expect(await server.kill("SIGTERM")).toMatchObject({ exitCode: 0 });
    const projects = await readdir(join(home, ".acontext", "sandboxes", "sb"));
    for (const project of projects) expect(await readdir(join(home, ".acontext", "sandboxes", "sb", project))).toEqual([]);
    // Nothing of this server's is left: no process of nobody's whose arguments or environment name
    // its home (the server, PID 1s, agents and their nsenters all do).
    const pids = spawnSync("ps", ["-u", "nobody", "-o", "pid="]).stdout.toString().split("\n").filter(Boolean);
    const ours = pids.filter((pid) => [`/proc/${pid.trim()}/cmdline`, `/proc/${pid.trim()}/environ`].some((file) => readIfThere(file).includes(home)));
    expect(ours).toEqual([]);
  });
});

function readIfThere(file: string): string {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return "";
  }
}
