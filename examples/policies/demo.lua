-- demo: the policy the README's tour walks through.
--
-- Every open (open, openat, openat2, creat) is decided on c.abspath, the
-- path joined to the caller's cwd or dirfd with "//", "." and ".."
-- folded, so /etc//shadow, /etc/./shadow, /tmp/../etc/shadow and shadow
-- from a dirfd of /etc are all /etc/shadow:
--  * /etc/shadow is never opened (EACCES);
--  * a file under /etc is never opened for writing (EROFS: write access,
--    O_CREAT, O_TRUNC or O_TMPFILE);
--  * other files under /etc are opened by sysgated itself (a brokered
--    open, as the caller): the program gets the file that was checked;
--  * everything else is allowed.
-- open_by_handle_at, which opens a file without a path, fails with EPERM
-- in the kernel, as do ptrace and bpf. Every exec (execve, execveat) is
-- logged; mkdir and mkdirat are answered with success without being run.
--
-- Not covered: another name for the file (a symlink or hard link to
-- /etc/shadow made elsewhere, /proc/self/root/etc/shadow) and the other
-- calls that change /etc (rename, unlink, ...); file permissions keep
-- those. function-host.lua shows the fuller set.
local sg = sysgate

local function writes(c)
  if c.has_flag("O_PATH") then
    return false
  end
  return not c.has_flag("O_RDONLY") or c.has_flag("O_CREAT") or c.has_flag("O_TRUNC")
    or c.has_flag("O_TMPFILE")
end

local function open_file(c)
  local path = c.abspath
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
end

local function exec(c)
  return sg.allow():log("exec " .. (c.abspath or c.path))
end

local mkdir = sg.emulate(0):log("mkdir answered, not run")

return sg.policy {
  name = "demo",
  default = "allow",
  kernel = {
    deny = { "ptrace", "bpf", "open_by_handle_at", errno = "EPERM",
             -- an io_uring opens files without a system call to decide
             { "io_uring_setup", errno = "ENOSYS" } },
  },
  on = {
    open = open_file, openat = open_file, openat2 = open_file, creat = open_file,
    execve = exec, execveat = exec,
    mkdir = mkdir, mkdirat = mkdir,
  },
}
