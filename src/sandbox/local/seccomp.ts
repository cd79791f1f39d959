// The seccomp deny-list every exec runs under, as classic BPF for x86_64, built here so it needs
// no libseccomp; the exec agent (agent.ts) loads it.
// Default ALLOW; EPERM for syscalls a sandbox never needs and that widen the kernel's attack
// surface; no new namespaces through clone/unshare; ENOSYS for clone3 (glibc falls back to clone,
// whose flags can be checked); any other ABI (i386, x32) is killed.

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const ENOSYS = 38;

const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const RET_ALLOW = 0x7fff0000;

// struct seccomp_data: nr at 0, arch at 4, args[0] (low 32 bits) at 16.
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0 = 16;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME. */
export const CLONE_NEW_MASK = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

/** x86_64 syscall numbers answered with EPERM. */
export const DENIED_SYSCALLS: Readonly<Record<string, number>> = {
  syslog: 103, uselib: 134, ustat: 136, vhangup: 153, pivot_root: 155, _sysctl: 156, adjtimex: 159, acct: 163,
  settimeofday: 164, mount: 165, umount2: 166, swapon: 167, swapoff: 168, reboot: 169, iopl: 172, ioperm: 173,
  create_module: 174, init_module: 175, delete_module: 176, get_kernel_syms: 177, query_module: 178, quotactl: 179,
  nfsservctl: 180, lookup_dcookie: 212, clock_settime: 227, kexec_load: 246, add_key: 248, request_key: 249,
  keyctl: 250, perf_event_open: 298, name_to_handle_at: 303, open_by_handle_at: 304, clock_adjtime: 305, setns: 308,
  finit_module: 313, kexec_file_load: 320, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426,
  io_uring_register: 427, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433,
  mount_setattr: 442,
};
const CLONE = 56;
const UNSHARE = 272;
const CLONE3 = 435;

type Instruction = [code: number, jt: number, jf: number, k: number];

/** The filter program: 8 bytes per instruction, as struct sock_filter. */
export function seccompFilter(): Buffer {
  const denied = Object.values(DENIED_SYSCALLS);
  const program: Instruction[] = [];
  const add = (code: number, jt: number, jf: number, k: number) => program.push([code, jt, jf, k >>> 0]);

  add(LD_W_ABS, 0, 0, OFFSET_ARCH);
  add(JEQ_K, 1, 0, AUDIT_ARCH_X86_64);
  add(RET_K, 0, 0, RET_KILL_PROCESS);
  add(LD_W_ABS, 0, 0, OFFSET_NR);
  add(JGE_K, 0, 1, X32_SYSCALL_BIT);
  add(RET_K, 0, 0, RET_KILL_PROCESS);
  for (const nr of denied) {
    add(JEQ_K, 0, 1, nr);
    add(RET_K, 0, 0, RET_ERRNO | EPERM);
  }
  add(JEQ_K, 0, 1, CLONE3);
  add(RET_K, 0, 0, RET_ERRNO | ENOSYS);
  // clone and unshare: allowed unless they ask for a new namespace.
  add(JEQ_K, 1, 0, CLONE);
  add(JEQ_K, 0, 3, UNSHARE);
  add(LD_W_ABS, 0, 0, OFFSET_ARG0);
  add(JSET_K, 0, 1, CLONE_NEW_MASK);
  add(RET_K, 0, 0, RET_ERRNO | EPERM);
  add(RET_K, 0, 0, RET_ALLOW);

  const bytes = Buffer.alloc(program.length * 8);
  program.forEach(([code, jt, jf, k], i) => {
    bytes.writeUInt16LE(code, i * 8);
    bytes.writeUInt8(jt, i * 8 + 2);
    bytes.writeUInt8(jf, i * 8 + 3);
    bytes.writeUInt32LE(k, i * 8 + 4);
  });
  return bytes;
}
