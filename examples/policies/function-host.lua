-- function-host: a baseline for hosts that run untrusted functions.
--
-- Decided in the kernel, without a round trip: the calls a function never
-- needs and that open the host up (tracing, BPF, mounts, loading kernels or
-- modules) fail with EPERM. Forwarded to sysgated: opening files (writes
-- under /etc are refused), executing programs (logged, and rate-limited)
-- and connecting (logged with the address). Everything else is allowed in
-- the kernel.
--
-- Never deny the calls a function logs with (write to its stdout/stderr):
-- a function that cannot log fails with no trace of why.
local sg = sysgate

local function writes(c)
  return not c.has_flag("O_RDONLY") or c.has_flag("O_CREAT") or c.has_flag("O_TRUNC")
end

return sg.policy {
  name = "function-host",
  default = "allow",
  kernel = {
    deny = {
      "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open",
      "mount", "umount2", "pivot_root", "kexec_load", "kexec_file_load",
      "init_module", "finit_module", "delete_module",
      -- A process that serves its own page faults could make the
      -- supervisor wait while it reads a path from that memory.
      "userfaultfd",
      errno = "EPERM",
    },
  },
  on = {
    openat = function(c)
      -- c.path is the path as the program passed it; a relative path is
      -- not resolved here (see the README on what c.path guarantees).
      local path = c.path
      if path:sub(1, 5) == "/etc/" and writes(c) then
        return sg.deny("EACCES"):log("write under /etc")
      end
      return sg.allow()
    end,
    -- A function that spawns programs in a loop is slowed down, not failed:
    -- past a burst of 50, the whole target may exec 20 programs a second
    -- (per target: each fork would get a bucket of its own per process).
    execve = sg.limit {
      rate = 20, burst = 50, per = "target", over = "throttle",
      under = function(c) return sg.allow():log("exec " .. c.path) end,
    },
    connect = function(c)
      local a = c.addr
      local where = a and (a.ip and (a.ip .. ":" .. a.port) or a.path or a.family) or "?"
      return sg.allow():log("connect " .. where)
    end,
  },
}
