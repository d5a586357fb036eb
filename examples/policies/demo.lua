-- demo: the policy the README's tour walks through.
-- Reads are allowed, except /etc/shadow, and those under /etc are opened
-- by sysgated itself (a brokered open); writes under /etc are refused;
-- every exec is logged; mkdir is answered without being run.
local sg = sysgate

local function writes(c)
  return not c.has_flag("O_RDONLY") or c.has_flag("O_CREAT") or c.has_flag("O_TRUNC")
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
      if path:sub(1, 5) == "/etc/" and writes(c) then
        return sg.deny("EROFS"):log("write under /etc")
      end
      if path:sub(1, 5) == "/etc/" then
        -- Opened by sysgated itself, as the caller, and handed over: the
        -- program gets the file that was checked, whatever its other
        -- threads write into the path meanwhile.
        return sg.open():log("opened by sysgated")
      end
      return sg.allow()
    end,
    execve = function(c)
      return sg.allow():log("exec " .. c.path)
    end,
    mkdir = sg.emulate(0):log("mkdir answered, not run"),
  },
}
