local sg = sysgate
return sg.policy {
  name = "demo", mode = "audit", pointer_args = "enforce",
  default = sg.deny("EACCES"),
  kernel = { deny = { "ptrace", { "mount", errno = "EACCES" }, errno = "EPERM" },
             kill = { "kexec_load" }, allow = { "read", "write", "exit_group" } },
  on = {
    openat2 = function(c)
      if c.has_flag("O_CREAT") and c.mode ~= 0 then return sg.open(c.path, 0, 0, { as = "supervisor" }) end
      return sg.open()
    end,
    execve = function(c)
      local s = table.concat(c.argv or {}, " ") .. #(c.envp or {})
      return sg.allow():log(s .. c.target.labels.app .. (c.exe or "") .. c.uid)
    end,
    connect = function(c) local a = c.addr; return sg.deny(a.port == 80 and "ECONNREFUSED" or 13) end,
    clone3 = function(c) if c.has_flag("CLONE_NEWUSER") then return sg.kill() end return sg.allow() end,
    renameat2 = function(c) return sg.emulate(#c.path + #c.path2 + c.args[1]) end,
    mkdir = sg.emulate(0):log("mkdir answered, not run"),
  },
}
