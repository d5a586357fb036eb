local sg = sysgate
local per_target = sg.limit { rate = 1, burst = 3, per = 'target',
  over = sg.deny('EBUSY'):log('target over') }
return sg.policy { on = {
  getppid = sg.limit { rate = 1, burst = 2, under = function(c)
    return sg.emulate(c.pid) end },
  getuid = sg.limit { rate = 1, burst = 2, over = sg.kill(), under = per_target },
  getgid = sg.limit { rate = 10, burst = 1, per = 'target', parked = 3, over = 'throttle',
    over_cap = sg.deny('EBUSY'), under = sg.allow():log('late') },
  kill = function(c)
    if sg.limited('kill:' .. c.pid, 5, 10, 'process') then return sg.deny('EAGAIN') end
    return sg.allow()
  end,
} }
