-- GET one of the paths listed in the file named by the environment variable BENCH_PATHS, at random.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  table.insert(paths, line)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = "application/json"})
end
