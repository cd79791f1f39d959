// What every process of every sandbox may not do, whatever the backend: the local backend renders
// it as classic BPF (local/seccomp.ts), the docker backend as a seccomp profile for the engine
// (docker/seccomp-profile.ts). Default allow; EPERM for syscalls a sandbox never needs and that
// widen the kernel's attack surface (io_uring, bpf, keyrings, mounts, …); no new namespaces
// through clone or unshare; ENOSYS for clone3 (glibc then falls back to clone, whose flags can be
// checked); sockets of four address families only (no AF_VSOCK to the hypervisor, no raw packets).

export const EPERM = 1;
export const ENOSYS = 38;
export const EAFNOSUPPORT = 97;

/** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME. */
export const CLONE_NEW_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080];

/** The address families a sandbox may open sockets of: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK. */
export const SOCKET_FAMILIES = [1, 2, 10, 16];

/** x86_64 syscall numbers answered with EPERM. */
export const DENIED_SYSCALLS: Readonly<Record<string, number>> = {
  syslog: 103,
  uselib: 134,
  ustat: 136,
  vhangup: 153,
  pivot_root: 155,
  _sysctl: 156,
  adjtimex: 159,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  get_kernel_syms: 177,
  query_module: 178,
  quotactl: 179,
  nfsservctl: 180,
  lookup_dcookie: 212,
  clock_settime: 227,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  perf_event_open: 298,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  setns: 308,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
};
