-- function-host: a baseline for hosts that run untrusted functions.
--
-- Decided in the kernel, without a round trip, and failing with EPERM:
-- the calls a function never needs and that open the host up: tracing,
-- BPF, perf, every way to mount (mount, umount2, pivot_root and the new
-- mount API: fsopen, fsconfig, fsmount, fspick, move_mount, open_tree,
-- mount_setattr), opening by file handle (open_by_handle_at), joining
-- namespaces (setns), loading kernels or modules, and userfaultfd (a
-- process that serves its own page faults could make the supervisor wait
-- while it reads a path from that memory). clone3 fails with ENOSYS: its
-- flags live in memory, which the filter cannot read, and libc falls back
-- to clone, whose flags it can see. io_uring fails with ENOSYS: a ring's
-- operations never pass through seccomp, so they would open, connect and
-- rename past every handler below.
--
-- Forwarded to sysgated:
--  * Nothing under /etc is changed by name. Refused (EACCES): an open of a
--    file under /etc for writing (open, openat, openat2, creat: write
--    access, O_CREAT, O_TRUNC or O_TMPFILE), truncate, and creating,
--    removing or renaming a name under /etc (mkdir, mknod, unlink, rmdir,
--    rename from or to it, link from or to it, symlink placed in it), and
--    /etc itself. "Under /etc" is decided on c.abspath: the path joined to
--    the caller's cwd or dirfd with "//", "." and ".." folded, so
--    /etc//x, /tmp/../etc/x, ../etc/x from /tmp and x from a dirfd of /etc
--    are all /etc/x. What it does NOT see: a path through a symlink or a
--    /proc magic link (/proc/self/root/etc/x, /dev/fd/N/x), another
--    thread rewriting the path after the check (pointer_args is
--    "advisory" here), and metadata (chmod, chown, xattrs, times). Run
--    functions as a uid that cannot write /etc: that is the wall, this
--    rule is the tripwire that refuses and logs the plain routes.
--  * No new user namespace: clone and unshare with CLONE_NEWUSER fail with
--    EPERM (each clone costs a round trip for that).
--  * Executing programs (execve, execveat): logged, and rate-limited.
--  * Naming a peer address (connect, and sendto or sendmsg with an
--    address): logged with the address. Every sendto and sendmsg costs a
--    round trip, also those without an address; drop all three handlers
--    together, not one, if that log is not needed. sendmmsg's addresses
--    are not read, and not logged.
-- Everything else is allowed in the kernel.
--
-- Never deny the calls a function logs with (write to its stdout/stderr):
-- a function that cannot log fails with no trace of why.
local sg = sysgate

-- /etc or a name under it.
local function under_etc(path)
  return path ~= nil and (path == "/etc" or path:sub(1, 5) == "/etc/")
end

-- An open that can change the file: write access, create, truncate, or
-- an unnamed file to link in later. O_PATH opens nothing for writing (the
-- kernel drops the other flags).
local function writes(c)
  if c.has_flag("O_PATH") then
    return false
  end
  return not c.has_flag("O_RDONLY") or c.has_flag("O_CREAT") or c.has_flag("O_TRUNC")
    or c.has_flag("O_TMPFILE")
end

local function refuse(what)
  return sg.deny("EACCES"):log(what .. " under /etc")
end

local function open_file(c)
  if writes(c) and under_etc(c.abspath) then
    return refuse("write")
  end
  return sg.allow()
end

-- Calls that change the name they are given (path), or either of two.
local function change_name(c)
  if under_etc(c.abspath) then
    return refuse(c.syscall)
  end
  return sg.allow()
end

local function change_names(c)
  if under_etc(c.abspath) or under_etc(c.abspath2) then
    return refuse(c.syscall)
  end
  return sg.allow()
end

-- symlink's first path is the link's content, not a name it makes.
local function make_symlink(c)
  if under_etc(c.abspath2) then
    return refuse(c.syscall)
  end
  return sg.allow()
end

local function no_userns(c)
  if c.has_flag("CLONE_NEWUSER") then
    return sg.deny("EPERM"):log("new user namespace")
  end
  return sg.allow()
end

-- A function that spawns programs in a loop is slowed down, not failed:
-- past a burst of 50, the whole target may exec 20 programs a second
-- (per target: each fork would get a bucket of its own per process).
-- One limit, so execve and execveat share the bucket.
local exec = sg.limit {
  rate = 20, burst = 50, per = "target", over = "throttle",
  under = function(c) return sg.allow():log("exec " .. (c.abspath or c.path)) end,
}

local function peer(c)
  local a = c.addr
  if a == nil then
    return sg.allow() -- a send on a connected socket: no address named
  end
  local where = a.ip and (a.ip .. ":" .. a.port) or a.path or a.family
  return sg.allow():log(c.syscall .. " " .. where)
end

return sg.policy {
  name = "function-host",
  default = "allow",
  kernel = {
    deny = {
      "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open",
      "mount", "umount2", "pivot_root",
      "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
      "open_by_handle_at", "setns",
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
      "userfaultfd",
      { "clone3", errno = "ENOSYS" },
      -- A ring's operations (open, connect, rename, ...) never pass through
      -- seccomp; ENOSYS, as on a kernel without io_uring, and libraries
      -- fall back to the system calls the handlers below decide.
      { "io_uring_setup", errno = "ENOSYS" },
      { "io_uring_enter", errno = "ENOSYS" },
      { "io_uring_register", errno = "ENOSYS" },
      errno = "EPERM",
    },
  },
  on = {
    open = open_file, openat = open_file, openat2 = open_file, creat = open_file,
    truncate = change_name,
    mkdir = change_name, mkdirat = change_name, mknod = change_name, mknodat = change_name,
    unlink = change_name, unlinkat = change_name, rmdir = change_name,
    rename = change_names, renameat = change_names, renameat2 = change_names,
    link = change_names, linkat = change_names,
    symlink = make_symlink, symlinkat = make_symlink,
    clone = no_userns, unshare = no_userns,
    execve = exec, execveat = exec,
    connect = peer, sendto = peer, sendmsg = peer,
  },
}
