-- POST the bodies of the files listed in BENCH_BODIES (one file per line) in turn, to BENCH_PATH.
local bodies = {}
for name in io.lines(os.getenv("BENCH_BODIES")) do
  local file = io.open(name, "rb")
  table.insert(bodies, file:read("*a"))
  file:close()
end
local path = os.getenv("BENCH_PATH")
local index = 0

function request()
  index = index % #bodies + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[index])
end
