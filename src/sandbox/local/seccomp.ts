// The seccomp policy (../seccomp-policy.ts) as classic BPF for x86_64, built here so it needs no
// libseccomp; PID 1 (init.pl) and the exec agent (agent.pl) load it, and every process of a local
// sandbox runs under it. Any other ABI (i386, x32) is killed.
import { CLONE_NEW_FLAGS, DENIED_SYSCALLS, EAFNOSUPPORT, ENOSYS, EPERM, SOCKET_FAMILIES } from "../seccomp-policy.js";

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const CLONE_NEW_MASK = CLONE_NEW_FLAGS.reduce((mask, flag) => mask | flag, 0);

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

const CLONE = 56;
const UNSHARE = 272;
const CLONE3 = 435;
const SOCKET = 41;

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
  // socket(): allowed families only; any other (AF_VSOCK reaches the hypervisor's sockets) is EAFNOSUPPORT.
  add(JEQ_K, 0, SOCKET_FAMILIES.length + 3, SOCKET);
  add(LD_W_ABS, 0, 0, OFFSET_ARG0);
  for (const [i, family] of SOCKET_FAMILIES.entries()) add(JEQ_K, SOCKET_FAMILIES.length - i, 0, family);
  add(RET_K, 0, 0, RET_ERRNO | EAFNOSUPPORT);
  add(RET_K, 0, 0, RET_ALLOW);
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
