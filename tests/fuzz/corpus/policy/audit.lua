-- audit: forward the calls that touch files, programs, processes and the
-- network, allow every one of them and log it. Use it to see what a
-- program does before writing its policy.
local sg = sysgate

local watched = {
  "openat", "open", "creat", "execve", "execveat", "unlink", "unlinkat",
  "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
  "chmod", "fchmodat", "chown", "fchownat", "symlink", "symlinkat", "link", "linkat",
  "socket", "connect", "bind", "listen", "accept4", "sendto",
  "clone", "clone3", "fork", "vfork", "kill", "tgkill",
  "ptrace", "mount", "setuid", "setgid", "prctl", "seccomp",
}

local on = {}
for _, name in ipairs(watched) do
  on[name] = function(c)
    return sg.allow():log("audit")
  end
end

return sg.policy {
  name = "demo",
  default = "allow",
  on = on,
}
