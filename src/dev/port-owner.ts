import { promises as fs } from "node:fs";

// Linux only: /proc/net/tcp{,6} lists the sockets of this network namespace with their inodes,
// /proc/PID/fd links name the inodes a process holds (`socket:[INODE]`).

const LISTEN = "0A";

/** Inodes of the TCP sockets listening on `port` (any address, IPv4 and IPv6). */
export async function listeningInodes(port: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await fs.readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (!local || f[3] !== LISTEN) continue;
      const hex = local.slice(local.lastIndexOf(":") + 1);
      if (Number.parseInt(hex, 16) === port && f[9] && f[9] !== "0") out.add(f[9]);
    }
  }
  return out;
}

/** `root` and every process below it: its descendants by parent pid, and its process group. */
export async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  const inGroup: number[] = [];
  for (const name of await fs.readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // "PID (COMM) STATE PPID PGRP …"; COMM may hold spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(name);
    parents.set(pid, Number(rest[1]));
    if (Number(rest[2]) === root) inGroup.push(pid);
  }
  const tree = new Set<number>([root, ...inGroup]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** Whether `root` or a process below it holds a socket listening on `port`. */
export async function treeListensOn(root: number, port: number): Promise<boolean> {
  const inodes = await listeningInodes(port);
  if (inodes.size === 0) return false;
  // The process itself first: the usual case, without walking every process on the machine.
  if (await holds(root, inodes)) return true;
  for (const pid of await processTree(root)) if (pid !== root && (await holds(pid, inodes))) return true;
  return false;
}

async function holds(pid: number, inodes: Set<string>): Promise<boolean> {
  const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const links = await Promise.all(fds.map((fd) => fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")));
  return links.some((link) => {
    const m = /^socket:\[(\d+)\]$/.exec(link);
    return m !== null && inodes.has(m[1]!);
  });
}
