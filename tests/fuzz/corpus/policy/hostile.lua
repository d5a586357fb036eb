local sg = sysgate
local t = setmetatable({}, { __index = function() error("boom") end })
return sg.policy { on = {
  getpid = function(c) while true do end end,
  getppid = function(c) return pcall(string.rep, "x", 1 << 30) end,
  getuid = function(c) return t end,
  getgid = function(c) return ("a"):rep(40):find(".-.-.-.-.-.-.-.-.-.-b") end,
  gettid = function(c) return coroutine.wrap(function() return sg.allow() end)() end,
} }
