// The seccomp policy every sandbox gets (../seccomp-policy.ts), as a profile for the container
// engine (the JSON of `docker run --security-opt seccomp=FILE`). It replaces the engine's default
// profile: the same deny-list as local sandboxes, so a limit holds on every backend (Docker 20.10's
// default allows io_uring, for one). Only x86_64: the engine's seccomp kills other ABIs.
import { CLONE_NEW_FLAGS, DENIED_SYSCALLS, EAFNOSUPPORT, ENOSYS, EPERM, SOCKET_FAMILIES } from "../seccomp-policy.js";

interface Rule {
  names: string[];
  action: "SCMP_ACT_ERRNO";
  errnoRet: number;
  args?: Array<{ index: number; value: number; valueTwo: number; op: string }>;
}

export function seccompProfile(): string {
  const rules: Rule[] = [
    { names: Object.keys(DENIED_SYSCALLS), action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
  ];
  // clone's flags are its first argument, unshare's too: any namespace flag set is refused.
  for (const flag of CLONE_NEW_FLAGS) {
    rules.push({
      names: ["clone", "unshare"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
    });
  }
  // Sockets: every family below the highest allowed one that is not allowed, and every one above it.
  const highest = Math.max(...SOCKET_FAMILIES);
  const refuse = (value: number, op: string) =>
    rules.push({ names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: EAFNOSUPPORT, args: [{ index: 0, value, valueTwo: 0, op }] });
  for (let family = 0; family < highest; family++) if (!SOCKET_FAMILIES.includes(family)) refuse(family, "SCMP_CMP_EQ");
  refuse(highest, "SCMP_CMP_GT");
  return JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: rules });
}
