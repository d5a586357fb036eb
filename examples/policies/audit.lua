-- audit: forward the calls that touch files, programs, processes and the
-- network, allow every one of them and log it. Use it to see what a
-- program does before writing its policy.
local sg = sysgate

-- Whole families (sysgated --check warns about a family named in part):
-- a program that opens with openat2 or mounts with fsmount is seen too.
local watched = {
  "open", "openat", "openat2", "creat", "open_by_handle_at",
  "execve", "execveat",
  "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2",
  "mkdir", "mkdirat", "mknod", "mknodat",
  "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchown", "fchownat",
  "symlink", "symlinkat", "link", "linkat",
  "socket", "connect", "bind", "listen", "accept4", "sendto", "sendmsg",
  "clone", "clone3", "unshare", "fork", "vfork",
  "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
  "ptrace", "setuid", "setgid", "prctl", "seccomp",
  "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
  "move_mount", "open_tree", "mount_setattr",
  -- a ring's operations pass no system call: at least its setup is seen
  "io_uring_setup",
}

local on = {}
for _, name in ipairs(watched) do
  on[name] = function(c)
    return sg.allow():log("audit")
  end
end

return sg.policy {
  name = "audit",
  default = "allow",
  on = on,
}
