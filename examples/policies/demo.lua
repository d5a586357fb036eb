-- demo: the policy the README's tour walks through.
-- Reads are allowed, except /etc/shadow; writes under /etc are refused;
-- every exec is logged; mkdir is answered without being run.
local sg = sysgate

local O_ACCMODE, O_CREAT, O_TRUNC = 3, 0x40, 0x200

local function writes(flags)
  return flags & O_ACCMODE ~= 0 or flags & (O_CREAT | O_TRUNC) ~= 0
end

return sg.policy {
  name = "demo",
  default = "allow",
  kernel = {
    deny = { "ptrace", "bpf", errno = "EPERM" },
  },
  on = {
    openat = function(c)
      local path = c.path
      if path == "/etc/shadow" then
        return sg.deny("EACCES"):log("secret file")
      end
      if path:sub(1, 5) == "/etc/" and writes(c.args[3]) then
        return sg.deny("EROFS"):log("write under /etc")
      end
      return sg.allow()
    end,
    execve = function(c)
      return sg.allow():log("exec " .. c.path)
    end,
    mkdir = sg.emulate(0):log("mkdir answered, not run"),
  },
}
